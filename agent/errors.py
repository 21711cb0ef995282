"""Errors of the laptop agent.

    fleetward.errors.FleetwardError
     +-- AgentError                    root of the agent's own errors
     |    +-- SettingsError            the config file or an environment variable is wrong
     |    +-- EnrollmentError          the collector refused the enroll secret, or cannot be reached
     |    +-- DeliveryError            the collector refused a report for good (moved to dead letters)
     |    +-- StateError               the state directory cannot be used (permissions, disk)
     |    +-- EvaluationInterrupted    shutdown arrived mid-evaluation; nothing was recorded
     +-- fleetward.errors.QueryError   a query could not be answered (the policy's verdict is `error`)
          +-- OsqueryUnavailable       no osqueryd answers on any socket tried (also an AgentError)

Each message says what failed, where (path, URL, setting) and what to do next.
"""

from __future__ import annotations

from collections.abc import Sequence

from fleetward.errors import FleetwardError, QueryError

INSTALL_HINT = (
    "Install osquery from https://osquery.io/downloads (see docs/laptop-rollout.md), make sure osqueryd "
    "is running with extensions enabled, or set FLEETWARD_OSQUERY_SOCKETS to the socket it uses "
    "(Fleet's orbit uses orbit-osquery.em)."
)


class AgentError(FleetwardError):
    """Root of the agent's own errors."""


class SettingsError(AgentError):
    pass


class EnrollmentError(AgentError):
    pass


class DeliveryError(AgentError):
    pass


class StateError(AgentError):
    pass


class EvaluationInterrupted(AgentError):
    pass


class OsqueryUnavailable(QueryError, AgentError):
    """No osqueryd answered. Names every socket tried and how to get one."""

    def __init__(self, tried: Sequence[str], reason: str = "no osqueryd is listening") -> None:
        self.tried = list(tried)
        paths = ", ".join(self.tried) or "(none configured)"
        super().__init__(f"cannot reach osquery: {reason}; sockets tried: {paths}. {INSTALL_HINT}")
