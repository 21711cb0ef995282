"""The compliance report: what an auditor receives, in every format.

The JSON schema of this model is the report's contract (`fleetward.compliance-report/v1`,
committed in docs/reference/report-formats.md). Add fields only with a new schema version.

Numbers are defined once, here and in docs/auditors.md:
- a pair is one (device, policy) the device is answerable for at the report instant;
- a pair is compliant when its status is pass, not_applicable, waived or in_grace; fail, error
  and stale are not compliant (a silent device is not a compliant one);
- a rate is compliant / total, rounded to 6 decimals, null when total is 0.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from collector.domain.state import AuditStatus
from fleetward.policy.model import Platform

SCHEMA_ID = "fleetward.compliance-report/v1"
TREND_DAYS_FOR_INSTANT = 30  # an instant report still shows how the fleet got there

Digest = Annotated[str, Field(pattern=r"^sha256:[0-9a-f]{64}$")]
StatusTally = dict[AuditStatus, int]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_Row = TypeVar("_Row", bound=BaseModel)


def trusted(cls: type[_Row], values: dict[str, Any]) -> _Row:
    """`cls.model_construct(**values)` for complete rows keyed by field name, without its per-field
    alias and default resolution: at 1.5 million pairs that resolution is a fifth of the build.
    Only the builder uses it, with every field given; the tests validate what it builds."""
    row = cls.__new__(cls)
    object.__setattr__(row, "__dict__", values)
    object.__setattr__(row, "__pydantic_fields_set__", set(values))
    object.__setattr__(row, "__pydantic_extra__", None)
    object.__setattr__(row, "__pydantic_private__", None)
    return row


class Rate(_Frozen):
    """`compliant` of `total`; `rate` = compliant / total rounded to 6 decimals (null when total is 0)."""

    compliant: int
    total: int
    rate: float | None

    @classmethod
    def of(cls, compliant: int, total: int) -> Rate:
        return cls(compliant=compliant, total=total, rate=round(compliant / total, 6) if total else None)


class Scope(_Frozen):
    kind: Literal["instant", "period"]
    at: datetime = Field(description="The instant every status in the report is taken at (end of a period).")
    period_start: datetime | None = Field(description="Start of the period; null for an instant report.")
    trend_start: datetime = Field(
        description="Start of the trend: the period start, or 30 days before an instant report's instant."
    )
    framework: str | None = Field(description="Only policies mapped to this framework; null for all.")
    validity: timedelta = Field(description="A pair with no report for longer than this is stale.")
    known_at: datetime | None = Field(
        None,
        description="The knowledge instant: the report shows only what the collector had received by "
        "then (its clock), so `fleetward report --as-known-at` with this instant reproduces it exactly.",
    )


class Summary(_Frozen):
    devices: int
    pairs: Rate = Field(
        description="Pairs in pass, waived or in_grace, of every pair except not_applicable ones."
    )
    devices_compliant: Rate = Field(
        description="Devices with no pair in fail, error or stale, of every device in the report."
    )
    status_counts: StatusTally
    stale_devices: int
    breaches: int
    ongoing_breaches: int
    active_waivers: int
    waivers_expiring_soon: int = Field(
        0, description="Active waivers expiring within 14 days of the instant."
    )
    late_observations: int = Field(
        0, description="Results in the window that arrived after a later observation of their pair."
    )


class PolicyView(_Frozen):
    """A policy as it was in force: the version results are judged against."""

    id: str
    title: str
    severity: str
    platforms: list[Platform]
    grace: timedelta
    version: str
    baseline: str | None
    frameworks: dict[str, list[str]]
    remediation: str
    pairs: Rate
    status_counts: StatusTally
    pairs_on_other_versions: int = Field(
        description="Pairs whose latest result was for a different policy version than the one in force."
    )


class PlatformRollup(_Frozen):
    platform: Platform
    devices: Rate
    pairs: Rate
    status_counts: StatusTally


class PracticeRollup(_Frozen):
    """One GP practice: its devices' and pairs' rates, breaches and stale devices."""

    practice: str | None = Field(description="ODS code; null for devices enrolled without a practice.")
    devices: Rate = Field(description="Its devices with no pair in fail, error or stale, of its devices.")
    pairs: Rate = Field(
        description="Its pairs in pass, waived or in_grace, of its pairs except not_applicable."
    )
    status_counts: StatusTally
    breaches: int = Field(description="Breaches of the remediation window on its devices (see breaches).")
    ongoing_breaches: int
    stale_devices: list[str] = Field(description="Hostnames of its devices with no report within validity.")


class ControlRollup(_Frozen):
    """A control counts a device when one of its policies applies to the device's platform, and is met
    on it when every such pair is compliant."""

    framework: str
    framework_title: str
    control: str
    control_title: str
    policy_ids: list[str]
    devices: Rate = Field(
        description="Devices meeting the control, of devices to which at least one of its policies applies."
    )


class DeviceView(_Frozen):
    device_id: str
    hostname: str
    platform: Platform
    practice: str | None
    os_name: str
    os_version: str
    hardware_serial: str
    enrolled_at: datetime
    last_enrolled_at: datetime | None = Field(description="Set when the same hardware enrolled again.")
    last_seen: datetime | None
    status: AuditStatus | None = Field(description="Worst status of the device's pairs.")
    compliant: bool
    stale: bool
    status_counts: StatusTally


class PairView(_Frozen):
    device_id: str
    policy_id: str
    status: AuditStatus
    observed: str | None = Field(
        description="What the agent last reported: pass, fail, error, not_applicable."
    )
    since: datetime | None = Field(description="When the current observed result started.")
    last_seen: datetime | None
    failing_since: datetime | None
    days_out_of_compliance: float | None = Field(description="(at - failing_since) in days, 2 decimals.")
    policy_version: str | None
    current_version: bool
    waiver_id: str | None
    evidence: list[dict[str, str]] = Field(
        description="osquery rows of the observation in force, kept for pass, fail and error results "
        "(at most 20 rows and 4 KiB, as the agent sends them)."
    )
    error: str | None


class BreachView(_Frozen):
    """A pair that was failing longer than its policy's grace at some sampled instant."""

    device_id: str
    policy_id: str
    grace: timedelta
    failing_since: datetime
    breached_at: datetime = Field(description="failing_since + grace.")
    days_beyond_grace: float = Field(description="At the last sampled instant in breach, 2 decimals.")
    ongoing: bool = Field(description="Still in breach at the report instant.")


class StaleDeviceView(_Frozen):
    device_id: str
    hostname: str
    last_seen: datetime | None
    days_silent: float | None


class WaiverView(_Frozen):
    id: str
    policy_id: str
    device_id: str | None
    practice: str | None
    justification: str
    owner: str
    granted_by: str
    granted_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    state: Literal["active", "expired", "revoked"] = Field(description="At the report instant.")
    ended_in_window: bool = Field(
        description="Expired or was revoked between the trend start and the instant."
    )
    pairs_waived: int = Field(description="Pairs shown as waived by it at the report instant.")
    expiring_soon: bool = Field(
        False,
        description="Active and expiring within 14 days of the report instant (EXPIRING_SOON): renew it "
        "with a fresh justification or remediate before then, or its pairs count against compliance.",
    )


class BundleView(_Frozen):
    version: int
    digest: str
    published_at: datetime
    in_force: bool


class LateObservationView(_Frozen):
    """A report whose results were observed before what the collector already knew of their pairs,
    observed inside the report's window: it changed the recorded past of those pairs."""

    device_id: str
    hostname: str
    observed_at: datetime = Field(description="The laptop's clock when it evaluated.")
    received_at: datetime = Field(description="When the collector received it.")
    late_results: int = Field(description="Results placed before the pair's newest recorded observation.")


class BaselineView(_Frozen):
    """A patch baseline's provenance, and whether it covers the report's instant."""

    name: str
    title: str
    refreshed: date = Field(description="Date of the release data the floors were last refreshed from.")
    newest_floor: date | None = Field(description="Release date of the newest floor; null without floors.")
    sources: dict[str, str] = Field(description="Where the floors and dates come from, by source key.")
    state: Literal["fresh", "due", "stale", "untracked"] = Field(
        description="stale: a floor that should be in force at the instant is missing, so agents report "
        "the policies reading it as error; due: the next floor is published or nearly due and not yet "
        "added; untracked: the baseline declares no freshness schedule."
    )
    due: date | None = Field(
        description="The Patch Tuesday whose floor is needed, or the day max age runs out."
    )
    lacking: list[str] = Field(description="Releases without the needed floor (Windows).")
    message: str
    policies: list[str] = Field(description="The policies in the report that read this baseline.")


class TrendPoint(_Frozen):
    day: date
    at: datetime
    pairs: Rate
    status_counts: StatusTally


class ComplianceReport(_Frozen):
    schema_id: Literal["fleetward.compliance-report/v1"] = Field(
        "fleetward.compliance-report/v1", alias="schema"
    )
    generated_at: datetime
    source: str = Field(description="What the report was generated from, with credentials removed.")
    scope: Scope
    summary: Summary
    policies: list[PolicyView]
    platforms: list[PlatformRollup]
    practices: list[PracticeRollup] = Field(default_factory=list)
    controls: list[ControlRollup]
    devices: list[DeviceView]
    pairs: list[PairView]
    breaches: list[BreachView]
    stale_devices: list[StaleDeviceView]
    waivers: list[WaiverView]
    bundles: list[BundleView]
    late_observations: list[LateObservationView] = Field(
        default_factory=list, description="Reports in the window placed before what was already known."
    )
    baselines: list[BaselineView] = Field(
        default_factory=list, description="Provenance and freshness of each baseline the policies read."
    )
    trend: list[TrendPoint]
    digest: Digest = Field(
        description="sha256 of the canonical JSON of every member but `digest` and `signature`; "
        "see docs/auditors.md."
    )
    signature: str | None = Field(
        default=None,
        pattern=r"^ed25519:[0-9a-f]{16}:[0-9a-f]{128}$",
        description="The issuing collector's Ed25519 signature of the digest (`ed25519:<key id>:<hex>`); "
        "absent when the report was built outside a collector. See docs/auditors.md.",
    )

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
