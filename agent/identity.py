"""Who and what the device is, from osquery's own `system_info` and `os_version` (never from Python's
view of the machine), so a recorded device of any platform can be served from any machine."""

from __future__ import annotations

from agent.osquery.runner import QueryRunner
from fleetward.errors import QueryError
from fleetward.policy.platforms import host_identity
from fleetward.wire import HostIdentity


def read_host(runner: QueryRunner, practice: str | None = None) -> HostIdentity:
    """QueryError when osquery cannot answer; UnknownPlatformError for a platform fleetward does not cover."""
    system_info = runner.query("SELECT * FROM system_info")
    os_version = runner.query("SELECT * FROM os_version")
    if not system_info or not os_version:
        missing = "system_info" if not system_info else "os_version"
        raise QueryError(f"osquery returned no {missing} row, so the device cannot be identified")
    return host_identity(system_info[0], os_version[0], practice)
