"""Every shipped policy against every shipped recorded device: the expected verdicts, pinned.

Each policy must be shown passing on at least one device and failing on at least one, so a query
that always passes (or always fails) cannot slip into the catalogue unnoticed.
"""

from __future__ import annotations

import pytest

from fleetward.policy.catalogue import Catalogue, load_catalogue
from fleetward.policy.run import evaluate_catalogue
from fleetward.policy.verdict import Result, Status
from fleetward.recorded import RecordedEngine, load_devices
from fleetward.recorded.model import RecordedDevice
from tests.support.catalogues import without_freshness

P, F, E = Status.PASS, Status.FAIL, Status.ERROR

# Policies not listed for a device are expected to pass (on its platform) or be not_applicable.
EXPECTED_NOT_PASSING: dict[str, dict[str, Status]] = {
    "win10-22h2-pro-esu": {},
    "win10-22h2-pro-no-esu": {"patch-windows-build-current": F, "patch-windows-release-supported": F},
    "win11-23h2-ent-past-servicing": {"patch-windows-release-supported": F},
    "win11-24h2-ent-compliant": {},
    "win11-24h2-ent-encrypting": {"encryption-windows-bitlocker": F},
    "win11-24h2-ent-wmi-error": {"firewall-windows-on": E, "updates-windows-automatic": E},
    "win11-24h2-pro-past-servicing": {"patch-windows-release-supported": F},
    "win11-25h2-ent-bitlocker-suspended": {"encryption-windows-bitlocker": F},
    "win11-25h2-ent-compliant": {},
    "win11-25h2-ent-defences-off": {
        "antimalware-windows-active": F,
        "firewall-windows-on": F,
        "updates-windows-automatic": F,
    },
    "win11-25h2-ent-ubr-inside-window": {},
    "win11-25h2-ent-ubr-outside-window": {"patch-windows-build-current": F},
    "win11-25h2-pro-aes-cbc": {"encryption-windows-bitlocker": F},
    "win11-25h2-pro-compliant": {},
    "macos-13-three-majors-behind": {
        "firewall-macos-on": F,
        "patch-macos-release-supported": F,
        "updates-macos-automatic": F,
    },
    "macos-14-two-majors-behind": {},
    "macos-15-filevault-off": {"encryption-macos-filevault": F, "patch-macos-version-current": F},
    "macos-26-compliant": {},
    "ubuntu-2004-esm": {},
    "ubuntu-2004-past-standard-support": {
        "patch-linux-security-updates": F,
        "patch-ubuntu-release-supported": F,
    },
    "ubuntu-2204-luks-data-only": {"encryption-linux-root-luks": F, "patch-linux-kernel-current": F},
    "ubuntu-2404-compliant": {},
    "ubuntu-2404-osquery-not-root": {
        "encryption-linux-root-luks": E,
        "patch-linux-security-updates": F,
        "updates-linux-automatic": F,
    },
}


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    # What each query says about each device; freshness is pinned in test_policy_freshness.py.
    return without_freshness(load_catalogue())


@pytest.fixture(scope="module")
def verdicts(catalogue: Catalogue) -> dict[str, list[Result]]:
    out = {}
    for device in load_devices():
        engine = RecordedEngine(device)
        out[device.name] = evaluate_catalogue(catalogue, device.platform, engine.query, device.recorded_at)
        engine.close()
    return out


def test_every_shipped_device_has_an_expectation(verdicts: dict[str, list[Result]]) -> None:
    assert sorted(verdicts) == sorted(EXPECTED_NOT_PASSING)
    assert len(verdicts) >= 20


@pytest.mark.parametrize("device_name", sorted(EXPECTED_NOT_PASSING))
def test_device_verdicts_match_expectation(
    device_name: str, verdicts: dict[str, list[Result]], catalogue: Catalogue
) -> None:
    device = _device(device_name)
    expected = EXPECTED_NOT_PASSING[device_name]
    for result in verdicts[device_name]:
        policy = catalogue.policy(result.policy_id)
        if not policy.applies_to(device.platform):
            assert result.status is Status.NOT_APPLICABLE
            continue
        want = expected.get(result.policy_id, P)
        assert result.status is want, f"{device_name} / {result.policy_id}: {result.error or result.evidence}"


def test_every_policy_passes_somewhere_and_fails_somewhere(
    verdicts: dict[str, list[Result]], catalogue: Catalogue
) -> None:
    for policy in catalogue.policies:
        statuses = {r.status for rs in verdicts.values() for r in rs if r.policy_id == policy.id}
        assert Status.PASS in statuses, f"{policy.id} never passes on a recorded device"
        assert Status.FAIL in statuses, f"{policy.id} never fails on a recorded device"


def test_failing_results_carry_the_rows_that_explain_them(verdicts: dict[str, list[Result]]) -> None:
    bitlocker = _result(verdicts, "win11-25h2-ent-bitlocker-suspended", "encryption-windows-bitlocker")
    assert bitlocker.evidence[0]["protection_status"] == "0"
    assert bitlocker.evidence[0]["conversion_status"] == "1"
    outside = _result(verdicts, "win11-25h2-ent-ubr-outside-window", "patch-windows-build-current")
    assert outside.evidence[0]["patch_level"] == "26200.8457"
    assert outside.evidence[0]["floor"] == "26200.8655"


def test_security_center_saying_error_is_an_error_not_a_fail(verdicts: dict[str, list[Result]]) -> None:
    # windows_security_center.cpp never fails the query: it writes "Error" in each column it could not
    # read, so the policies make that NULL (an error verdict) and keep the row as evidence.
    for policy_id, column in (
        ("firewall-windows-on", "firewall"),
        ("updates-windows-automatic", "autoupdate"),
    ):
        result = _result(verdicts, "win11-24h2-ent-wmi-error", policy_id)
        assert result.status is Status.ERROR
        assert result.error is not None
        assert result.evidence[0][column] == "Error"


def test_windows_10_passes_servicing_only_with_an_esu_build(verdicts: dict[str, list[Result]]) -> None:
    esu = _result(verdicts, "win10-22h2-pro-esu", "patch-windows-release-supported")
    assert esu.evidence[0]["extended_support"] == "1"
    assert esu.evidence[0]["in_support"] == "0"
    assert _result(verdicts, "win10-22h2-pro-no-esu", "patch-windows-release-supported").status is F


def test_evaluating_later_moves_the_floor(catalogue: Catalogue) -> None:
    """The inside-window device fails once the June floor is 14 days old."""
    device = _device("win11-25h2-ent-ubr-inside-window")
    engine = RecordedEngine(device)
    later = device.recorded_at.replace(day=24)
    policy = catalogue.policy("patch-windows-build-current")
    (before,) = evaluate_catalogue(
        catalogue, device.platform, engine.query, device.recorded_at, policies=[policy]
    )
    (after,) = evaluate_catalogue(catalogue, device.platform, engine.query, later, policies=[policy])
    assert (before.status, after.status) == (P, F)


def _device(name: str) -> RecordedDevice:
    return next(d for d in load_devices() if d.name == name)


def _result(verdicts: dict[str, list[Result]], device: str, policy_id: str) -> Result:
    return next(r for r in verdicts[device] if r.policy_id == policy_id)
