"""The wire schema between agent and collector, defined once and imported by both.

Pydantic models only: the agent imports this without any server dependency. Every model forbids
unknown fields so a typo in a client is an error, not silently dropped data.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from fleetward.policy.model import POLICY_ID_PATTERN, Platform
from fleetward.policy.verdict import Result

MAX_RESULTS_PER_REPORT = 500
MAX_EVENTS_PER_REPORT = 100

ShortText = Annotated[str, StringConstraints(max_length=200)]
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=200)]


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
    practice: Annotated[str | None, StringConstraints(max_length=40)] = Field(
        default=None, description="Practice tag, e.g. the ODS code of the GP practice"
    )


class EnrollRequest(_Wire):
    enroll_secret: Annotated[str, StringConstraints(min_length=8, max_length=200)]
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
    at: AwareDatetime
    message: Annotated[str, StringConstraints(max_length=2000)]


class Report(_Wire):
    """One evaluation's results. `report_id` is the idempotency key."""

    report_id: UUID
    kind: ReportKind
    observed_at: AwareDatetime = Field(description="When the agent evaluated, not when it sent")
    agent_version: ShortText
    bundle_version: Annotated[int | None, Field(ge=0)] = None
    policy_versions: dict[Annotated[str, StringConstraints(pattern=POLICY_ID_PATTERN)], str] = Field(
        default_factory=dict, description="policy id -> content digest of every policy evaluated"
    )
    results: Annotated[list[Result], Field(max_length=MAX_RESULTS_PER_REPORT)]
    events: Annotated[list[AgentEvent], Field(max_length=MAX_EVENTS_PER_REPORT)] = Field(default_factory=list)


class ReportAck(_Wire):
    report_id: UUID
    duplicate: bool = Field(description="True when this report id was already ingested: nothing changed")
    transitions: int = Field(description="How many (device, policy) status changes this report recorded")


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
