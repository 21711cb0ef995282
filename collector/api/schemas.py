"""Request and response bodies of the API beyond the agent's wire schema (`fleetward.wire`)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from fleetward.policy.model import Platform
from fleetward.policy.verdict import Status
from fleetward.status import AuditStatus

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def _in_range(value: datetime) -> datetime:
    if not EARLIEST <= value < LATEST:
        raise ValueError(f"instant must be between {EARLIEST.year} and {LATEST.year}")
    return value.astimezone(UTC)


Instant = Annotated[AwareDatetime, AfterValidator(_in_range)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Practice = Annotated[str, StringConstraints(min_length=1, max_length=40, strip_whitespace=True)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- admin: tokens and enroll secrets ---------------------------------------------------------


class TokenCreate(_Body):
    name: Name
    role: Literal["auditor", "admin"]


class TokenInfo(_Body):
    id: str
    name: str
    role: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None = None
    revoked_by: str | None = None


class TokenIssued(TokenInfo):
    token: str = Field(description="Shown once: store it now. Send as `Authorization: Bearer <token>`.")


class EnrollSecretCreate(_Body):
    name: Annotated[str, StringConstraints(max_length=200)] = ""
    practice: Practice | None = Field(
        default=None, description="Devices enrolled with it get this practice tag"
    )
    expires_in: timedelta = Field(
        default=timedelta(days=30), gt=timedelta(0), le=timedelta(days=3660), description="ISO 8601 duration"
    )


class EnrollSecretInfo(_Body):
    id: str
    name: str
    practice: str | None
    created_at: datetime
    created_by: str
    expires_at: datetime
    revoked_at: datetime | None = None
    revoked_by: str | None = None


class EnrollSecretIssued(EnrollSecretInfo):
    secret: str = Field(description="Shown once: give it to the agent installer (FLEETWARD_ENROLL_SECRET).")


# --- waivers ----------------------------------------------------------------------------------


class WaiverCreate(_Body):
    policy_id: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    device_id: Annotated[str, StringConstraints(min_length=1, max_length=40)] | None = None
    practice: Practice | None = None
    justification: Annotated[str, StringConstraints(min_length=10, max_length=4000, strip_whitespace=True)]
    owner: Name
    expires_at: Instant


class WaiverInfo(_Body):
    id: str
    policy_id: str
    device_id: str | None
    practice: str | None
    justification: str
    owner: str
    granted_at: datetime
    granted_by: str
    expires_at: datetime
    revoked_at: datetime | None = None
    revoked_by: str | None = None


# --- fleet state and history ------------------------------------------------------------------


class StatusCounts(_Body):
    total: int
    compliant: int = Field(description="pass + not_applicable + waived + in_grace")
    by_status: dict[AuditStatus, int]


class PolicyCounts(StatusCounts):
    policy_id: str


class PlatformCounts(StatusCounts):
    platform: str


class FleetPair(_Body):
    """One (device, policy) pair of the fleet state, as the API lists it (`collector.domain.state.PairState` is its status)."""

    device_id: str
    hostname: str
    platform: str
    practice: str | None
    policy_id: str
    status: AuditStatus
    observed: Status | None = Field(description="What the agent last reported (None: never reported)")
    policy_version: str | None
    since: datetime | None = Field(description="Start of the current run (the last transition)")
    last_seen: datetime | None
    failing_since: datetime | None
    days_out_of_compliance: float | None


class FleetState(_Body):
    at: datetime
    validity_seconds: int
    totals: StatusCounts
    by_policy: list[PolicyCounts]
    by_platform: list[PlatformCounts]
    pairs: list[FleetPair]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")


class DeviceInfo(_Body):
    device_id: str
    hostname: str
    platform: Platform
    os_name: str
    os_version: str
    practice: str | None
    hardware_uuid: str
    hardware_serial: str
    agent_version: str
    enrolled_at: datetime
    last_enrolled_at: datetime | None
    last_report_at: datetime | None


class DevicePage(_Body):
    devices: list[DeviceInfo]
    next_cursor: str | None


class RunInfo(_Body):
    policy_id: str
    status: Status
    policy_version: str
    since: datetime
    last_seen: datetime
    failing_since: datetime | None
    evidence: list[dict[str, str]]
    error: str | None
    report_id: str | None


class DeviceHistory(_Body):
    device: DeviceInfo
    runs: list[RunInfo] = Field(description="Every status run (one per transition), by policy then time")
    waivers: list[WaiverInfo]


class PolicyInfo(_Body):
    id: str
    version: str
    title: str
    severity: str
    platforms: list[str]
    grace_seconds: int
    frameworks: dict[str, list[str]]
    baseline: str | None
    source: Literal["catalogue", "report"]
    versions: list[str]


class BaselineInfo(_Body):
    """A patch baseline agents run now, with its provenance and freshness at the instant asked."""

    name: str
    title: str
    refreshed: date
    newest_floor: date | None
    sources: dict[str, str]
    state: Literal["fresh", "due", "stale", "untracked"]
    due: date | None
    lacking: list[str]
    message: str


class Health(_Body):
    status: Literal["ok"]


class Readiness(_Body):
    status: Literal["ready"]
    schema_revision: str
