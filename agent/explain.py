"""Known osquery failures in words an IT person can act on (`fleetward-agent check`).

An `error` verdict carries osquery's own message, or the policy engine's, which is exact but not
helpful on a help desk. Each rule here recognises one known cause from the verdict and the policy, and
says what it means and what to do. The verdict itself never changes: an error stays an error.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from fleetward.policy.model import Policy
from fleetward.policy.verdict import Result

Matcher = Callable[[Policy, Result], "str | None"]


@dataclass(frozen=True)
class Rule:
    name: str
    explains: Matcher


def _not_root(policy: Policy, result: Result) -> str | None:
    # osquery/tables/system/linux/disk_encryption.cpp (5.23.1, line 111): when getuid() or geteuid()
    # is not 0 the table logs "Not running as root" and returns no rows, so a join finds nothing.
    if "linux" not in {p.value for p in policy.platforms} or "disk_encryption" not in policy.query:
        return None
    seen = [row.get("devices_seen") for row in result.evidence]
    if result.evidence and all(count == "0" for count in seen):
        return (
            "osqueryd is not running as root, so its disk_encryption table is empty: run it as root "
            "(systemd unit osqueryd.service, `sudo systemctl enable --now osqueryd`)"
        )
    return None


_NO_TABLE = re.compile(r"no such table: (\w+)")


def _missing_table(policy: Policy, result: Result) -> str | None:
    found = _NO_TABLE.search(result.error or "")
    if found is None:
        return None
    return (
        f"this laptop's osquery has no `{found.group(1)}` table: it is older than the policy needs, or the "
        "table does not exist on this OS; install osquery 5.x from https://osquery.io/downloads"
    )


def _wmi_class(policy: Policy, result: Result) -> str | None:
    # 0x80041010 is WBEM_E_INVALID_CLASS: the WMI class osquery asked for is not registered.
    if "0x80041010" not in (result.error or ""):
        return None
    return (
        "Windows' WMI does not know the class osquery asked for (WBEM_E_INVALID_CLASS): the Security Center "
        "provider is missing or WMI's repository is damaged; check it with `winmgmt /verifyrepository` in "
        "an elevated prompt"
    )


def _timeout(policy: Policy, result: Result) -> str | None:
    if "did not answer within" not in (result.error or ""):
        return None
    return (
        "osquery took too long on this query (often WMI on Windows, or a busy laptop); if it happens every "
        "time, raise query_timeout_seconds"
    )


def _not_a_verdict(policy: Policy, result: Result) -> str | None:
    if "a policy must return 0 or 1" not in (result.error or ""):
        return None
    return (
        "osquery answered, but without the data the policy judges by (an empty table or column), so the "
        "laptop cannot be verified; the evidence shows what osquery returned"
    )


RULES = (
    Rule("osqueryd-not-root", _not_root),
    Rule("missing-table", _missing_table),
    Rule("wmi-invalid-class", _wmi_class),
    Rule("query-timeout", _timeout),
    Rule("not-a-verdict", _not_a_verdict),
)


def explain(policy: Policy, result: Result) -> str | None:
    """The first known cause of a non-pass, in words; None when none is recognised (or it passed)."""
    if result.status.value not in {"error", "fail"}:
        return None
    for rule in RULES:
        words = rule.explains(policy, result)
        if words:
            return words
    return None
