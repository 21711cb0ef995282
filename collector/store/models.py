"""The collector's tables, as typed SQLAlchemy ORM models.

Only changes are kept: one `status_runs` row per stretch of identical verdicts of a (device,
policy) pair, and one small `ingested_reports` row per report (for idempotency), never a copy
of every unchanged result. See docs/data-model.md.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from collector.store.types import JSONDocument, UTCDateTime

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Device(Base):
    __tablename__ = "devices"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    hardware_uuid: Mapped[str] = mapped_column(String(200), unique=True)
    hardware_serial: Mapped[str] = mapped_column(String(200), default="")
    hostname: Mapped[str] = mapped_column(String(200))
    platform: Mapped[str] = mapped_column(String(20))
    os_name: Mapped[str] = mapped_column(String(200), default="")
    os_version: Mapped[str] = mapped_column(String(200), default="")
    practice: Mapped[str | None] = mapped_column(String(40), index=True)
    agent_version: Mapped[str] = mapped_column(String(200), default="")
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_report_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    enroll_secret_id: Mapped[str | None] = mapped_column(ForeignKey("enroll_secrets.id"))

    __table_args__ = (Index("ix_devices_hostname_id", "hostname", "id"),)


class DeviceKey(Base):
    __tablename__ = "device_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class EnrollSecret(Base):
    __tablename__ = "enroll_secrets"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    practice: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200), default="")
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by: Mapped[str | None] = mapped_column(String(200))
    max_uses: Mapped[int | None] = mapped_column(Integer)  # null: unlimited (secrets made before limits)
    uses: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200), default="")
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by: Mapped[str | None] = mapped_column(String(200))


class UiSession(Base):
    """A dashboard session: the cookie carries its id, this row only the id's hash."""

    __tablename__ = "ui_sessions"

    id_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    token_id: Mapped[str] = mapped_column(ForeignKey("api_tokens.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Policy(Base):
    """The registry: every policy the collector has heard of, from the catalogue or from reports."""

    __tablename__ = "policies"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    version: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    severity: Mapped[str] = mapped_column(String(20))
    platforms: Mapped[list[str]] = mapped_column(JSONDocument())
    grace_seconds: Mapped[int] = mapped_column(BigInteger, default=0)
    frameworks: Mapped[dict[str, list[str]]] = mapped_column(JSONDocument())
    baseline: Mapped[str | None] = mapped_column(String(200))
    remediation: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(20))  # "catalogue" or "report"
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PolicyPlatform(Base):
    """Where a policy applies, as rows so SQL can join devices to the policies that apply to them."""

    __tablename__ = "policy_platforms"

    policy_id: Mapped[str] = mapped_column(ForeignKey("policies.id"), primary_key=True)
    platform: Mapped[str] = mapped_column(String(20), primary_key=True)


class PolicyVersion(Base):
    """Every version of a policy ever seen, and when: the versions in force for an audit period."""

    __tablename__ = "policy_versions"

    policy_id: Mapped[str] = mapped_column(ForeignKey("policies.id"), primary_key=True)
    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    source: Mapped[str] = mapped_column(String(20))


class IngestedReport(Base):
    """One small row per report: the idempotency key and when it was observed and received."""

    __tablename__ = "ingested_reports"

    report_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    observed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Indexed for the daily rollups' watermark and the dashboard's data version (reports received since).
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    agent_version: Mapped[str] = mapped_column(String(200))
    bundle_version: Mapped[int | None] = mapped_column(BigInteger)
    result_count: Mapped[int] = mapped_column(Integer)
    transitions: Mapped[int] = mapped_column(Integer)
    # Results observed before the newest observation already recorded for their pair: placed into
    # the past (docs/data-model.md, "Late observations"), so flagged and counted in reports.
    late_results: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class StatusRun(Base):
    """A stretch of identical verdicts of one pair: from `since` (a transition) to `last_seen`.

    `next_since` is the next run's `since` (NULL for the latest), so the run in force at T is the
    one row with `since <= T < next_since`. `failing_since` is the start of the unbroken stretch
    of fail/error runs this run belongs to (NULL when it passes).
    """

    __tablename__ = "status_runs"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"))
    policy_id: Mapped[str] = mapped_column(ForeignKey("policies.id"))
    status: Mapped[str] = mapped_column(String(20))
    policy_version: Mapped[str] = mapped_column(String(64))
    since: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    next_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    evidence: Mapped[list[dict[str, str]]] = mapped_column(JSONDocument())
    error: Mapped[str | None] = mapped_column(Text)
    report_id: Mapped[str | None] = mapped_column(String(36))  # the report that started the run
    last_report_id: Mapped[str | None] = mapped_column(String(36))  # the one that last confirmed it

    __table_args__ = (
        UniqueConstraint("device_id", "policy_id", "since"),
        Index("ix_status_runs_since_next", "since", "next_since"),
    )


class RunRevision(Base):
    """A run row as it was before a write that changed what was already known: append-only.

    Knowledge time: the version here was what the collector knew until `known_until` (the
    `received_at` of the report `superseded_by`). Out-of-order placement keeps every row of the
    pair (kind "placed"); an in-order confirmation keeps the run only when it replaces its
    evidence or error, or comes in a transition report (kind "confirmed"). With the receipts
    this is enough to rebuild any pair as known at an earlier instant (collector/domain/knowledge.py).
    """

    __tablename__ = "run_revisions"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"))
    policy_id: Mapped[str] = mapped_column(ForeignKey("policies.id"))
    kind: Mapped[str] = mapped_column(String(20))  # "placed" or "confirmed"
    status: Mapped[str] = mapped_column(String(20))
    policy_version: Mapped[str] = mapped_column(String(64))
    since: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    evidence: Mapped[list[dict[str, str]]] = mapped_column(JSONDocument())
    error: Mapped[str | None] = mapped_column(Text)
    report_id: Mapped[str | None] = mapped_column(String(36))
    last_report_id: Mapped[str | None] = mapped_column(String(36))
    known_until: Mapped[datetime] = mapped_column(UTCDateTime())
    superseded_by: Mapped[str] = mapped_column(String(36))

    __table_args__ = (Index("ix_run_revisions_device_id_policy_id", "device_id", "policy_id"),)


class Waiver(Base):
    """Never deleted: revoking sets `revoked_at`/`revoked_by`, so history shows every exception."""

    __tablename__ = "waivers"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    policy_id: Mapped[str] = mapped_column(ForeignKey("policies.id"), index=True)
    device_id: Mapped[str | None] = mapped_column(ForeignKey("devices.id"), index=True)
    practice: Mapped[str | None] = mapped_column(String(40))
    justification: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(200))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    granted_by: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by: Mapped[str | None] = mapped_column(String(200))


class AgentEventRow(Base):
    __tablename__ = "agent_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"), index=True)
    report_id: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    message: Mapped[str] = mapped_column(Text)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument())


class DailyRollup(Base):
    """Pairs by status at the end of a UTC day (the next midnight), by policy, platform and practice:
    the trend's points, pre-aggregated (collector.store.rollups). `practice` is "" for none."""

    __tablename__ = "daily_rollups"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    policy_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    platform: Mapped[str] = mapped_column(String(20), primary_key=True)
    practice: Mapped[str] = mapped_column(String(40), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), primary_key=True)
    pairs: Mapped[int] = mapped_column(Integer)


class RollupDay(Base):
    """A day whose rollup rows are computed: when, and over which policies, waivers and platforms."""

    __tablename__ = "rollup_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    fingerprint: Mapped[str] = mapped_column(String(64))
