"""Errors of the shared core.

    FleetwardError                 root of every error this project raises on purpose
     +-- PolicyError               a policy, baseline or framework file is wrong
     |    +-- PolicyLoadError      cannot be read or validated (names file, field and line)
     +-- FeedError                 a release-data feed (baseline refresh) cannot be read
 +-- DeviceRecordError         a recorded-device file is wrong
     +-- QueryError                a query could not be answered (osquery or the embedded engine)
     +-- UnknownPlatformError      osquery reports a platform or identity fleetward cannot use

Each message says what failed, on which object, and what to do next.
"""

from __future__ import annotations

from dataclasses import dataclass


class FleetwardError(Exception):
    """Root of fleetward's own errors."""


class PolicyError(FleetwardError):
    pass


@dataclass(frozen=True)
class Problem:
    """One problem found in a file, printed as `path:line: message`."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class PolicyLoadError(PolicyError):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class DeviceRecordError(FleetwardError):
    pass


class FeedError(FleetwardError):
    """A release-data file given to `policies baselines refresh` is missing or not the expected shape."""


class QueryError(FleetwardError):
    """A query failed: the message is what osquery (or the engine) said."""


class UnknownPlatformError(FleetwardError):
    """osquery's os_version/system_info do not describe a Windows, macOS or Linux device we can identify."""
