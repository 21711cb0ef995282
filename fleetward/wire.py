"""The wire schema between agent and collector, defined once and imported by both.

Pydantic models only: the agent imports this without any server dependency. Every model forbids
unknown fields so a typo in a client is an error, not silently dropped data, and states every
bound a device's input must keep: counts, lengths, id patterns, number and date ranges, and text
free of NUL and lone surrogates (`fleetward.bounds`). A body outside them is refused at the door
(422 `invalid_request`, naming the field), before anything is stored.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from fleetward.bounds import MAX_BUNDLE_VERSION, SAFE_TEXT, Instant
from fleetward.policy.model import Platform
from fleetward.policy.verdict import PolicyId, PolicyVersion, Result

MAX_RESULTS_PER_REPORT = 500
MAX_EVENTS_PER_REPORT = 100

ShortText = Annotated[str, StringConstraints(max_length=200), SAFE_TEXT]
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=200), SAFE_TEXT]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HostIdentity(_Wire):
    """Who the device is, from osquery's own answers (`system_info`, `os_version`)."""

    uuid: Identifier = Field(description="system_info.uuid: the hardware UUID")
    hardware_serial: ShortText = Field(default="", description="system_info.hardware_serial")
    hostname: Identifier
    platform: Platform
    os_name: ShortText = Field(
        default="", description="os_version.name, e.g. 'Microsoft Windows 11 Enterprise'"
    )
    os_version: ShortText = Field(default="", description="os_version.version (plus revision on Windows)")
    practice: Annotated[str | None, StringConstraints(max_length=40), SAFE_TEXT] = Field(
        default=None, description="Practice tag, e.g. the ODS code of the GP practice"
    )


class EnrollRequest(_Wire):
    enroll_secret: Annotated[str, StringConstraints(min_length=8, max_length=200), SAFE_TEXT]
    host: HostIdentity
    agent_version: ShortText = ""


class EnrollResponse(_Wire):
    device_id: str
    device_key: str = Field(description="Shown once. Send as `Authorization: Bearer <key>` on every report.")
    reenrolled: bool = Field(default=False, description="True when this hardware was known: history is kept")


class ReportKind(StrEnum):
    TRANSITION = "transition"  # sent at once when a policy's status changed
    SNAPSHOT = "snapshot"  # full state on the slower heartbeat


class EventKind(StrEnum):
    OUTBOX_COMPACTED = "outbox_compacted"
    BUNDLE_REFUSED = "bundle_refused"
    BUNDLE_ACTIVATED = "bundle_activated"
    OSQUERY_UNAVAILABLE = "osquery_unavailable"
    REPORT_REFUSED = "report_refused"  # the collector refused a report for good; kept as a dead letter


class AgentEvent(_Wire):
    kind: EventKind
    at: Instant
    message: Annotated[str, StringConstraints(max_length=2000), SAFE_TEXT]


class Report(_Wire):
    """One evaluation's results. `report_id` is the idempotency key."""

    report_id: UUID
    kind: ReportKind
    observed_at: Instant = Field(description="When the agent evaluated, not when it sent")
    agent_version: ShortText
    bundle_version: Annotated[int | None, Field(ge=0, le=MAX_BUNDLE_VERSION)] = None
    policy_versions: Annotated[dict[PolicyId, PolicyVersion], Field(max_length=MAX_RESULTS_PER_REPORT)] = (
        Field(default_factory=dict, description="policy id -> content digest of every policy evaluated")
    )
    results: Annotated[list[Result], Field(max_length=MAX_RESULTS_PER_REPORT)]
    events: Annotated[list[AgentEvent], Field(max_length=MAX_EVENTS_PER_REPORT)] = Field(default_factory=list)


class RefusedResult(_Wire):
    policy_id: str
    code: str = Field(
        description="`unknown_policy` (readers keep codes plain strings: a newer collector may add some)"
    )
    message: str


class ReportAck(_Wire):
    report_id: UUID
    duplicate: bool = Field(description="True when this report id was already ingested: nothing changed")
    transitions: int = Field(description="How many (device, policy) status changes this report recorded")
    refused: list[RefusedResult] = Field(
        default_factory=list,
        description="Results not ingested (the rest of the report was): `unknown_policy` when neither the "
        "catalogue nor a published bundle defines the policy. Sending them again changes nothing.",
    )


class ErrorBody(_Wire):
    """Every 4xx/5xx from the collector has this shape; `code` is stable, `message` is for people."""

    code: str
    message: str
    detail: object | None = None

    @classmethod
    def of_refusal(cls, content: bytes, text: str, reason: str) -> ErrorBody:
        """The body of an HTTP refusal; an `http_error` body quoting it when it is not an ErrorBody
        (a proxy's page, a truncated answer). The one parser of refusals for every client."""
        try:
            return cls.model_validate_json(content)
        except ValueError:
            quoted = text.strip().replace("\n", " ")[:200]
            return cls(code="http_error", message=quoted or reason or "no message")


MAX_REPORTS_PER_BATCH = 64


class ReportBatch(_Wire):
    """`POST /v1/reports/batch`: a device's backlog, oldest first, each report as `POST /v1/reports` takes it."""

    reports: Annotated[list[Report], Field(min_length=1, max_length=MAX_REPORTS_PER_BATCH)]


class BatchItem(_Wire):
    """One report's answer in a batch: `status` is what `POST /v1/reports` would have answered for it
    alone; `ack` when it is stored (2xx, a duplicate too), `error` when it is not."""

    report_id: UUID
    status: int
    ack: ReportAck | None = None
    error: ErrorBody | None = None


class BatchAck(_Wire):
    """In the order sent. Every report with a 2xx `status` is durably stored when this arrives."""

    results: list[BatchItem]


class ErrorCode(StrEnum):
    """Every `ErrorBody.code` the collector emits: the one list the agent and the collector share.

    tests/collector/api/test_error_codes.py checks that every code the collector can emit is here.
    A newer collector may add codes, so readers keep `ErrorBody.code` a plain string.
    """

    INVALID_REQUEST = "invalid_request"
    UNAUTHENTICATED = "unauthenticated"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    CONFLICT = "conflict"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    RATE_LIMITED = "rate_limited"
    ENROLL_SECRET_INVALID = "enroll_secret_invalid"
    DEVICE_KEY_INVALID = "device_key_invalid"
    NOT_READY = "not_ready"
    INTERNAL_ERROR = "internal_error"
    NO_BUNDLE = "no_bundle"
    BUNDLE_INVALID = "bundle_invalid"
    BUNDLE_UNSIGNED = "bundle_unsigned"
    BUNDLE_DIGEST_MISMATCH = "bundle_digest_mismatch"
    BUNDLE_SIGNATURE_INVALID = "bundle_signature_invalid"
    BUNDLE_NOT_NEWER = "bundle_not_newer"
    BUNDLE_TRUST_NOT_CONFIGURED = "bundle_trust_not_configured"
    BUNDLE_VERSION_TOO_FAR = "bundle_version_too_far"
    UNKNOWN_POLICY = "unknown_policy"
    ENROLL_PRACTICE_MISMATCH = "enroll_practice_mismatch"
