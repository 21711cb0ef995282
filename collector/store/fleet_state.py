"""The fleet's state at an instant, computed in SQL over `status_runs`.

The run in force for a pair at T is the single row with `since <= T < next_since` (or no next);
its auditor status follows `collector.domain.state` (same precedence, same boundaries):
stale when `last_seen < T - validity`; pass / not_applicable as observed; waived when an active
waiver covers the pair; in_grace when failing and `failing_since > T - grace`; else fail/error.
Enrolled pairs that apply to the device's platform but have no run at T are stale.

`fleet_counts` aggregates without touching every (device, policy) combination: counts of pairs
with a run come from one pass over the runs in force, and pairs without one are the applicable
pairs minus those. `fleet_pairs` pages through pairs in (hostname, device id, policy id) order.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    case,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    true,
    tuple_,
)
from sqlalchemy.orm import Session, aliased

from collector.store.models import Device, Policy, PolicyPlatform, StatusRun, Waiver
from collector.store.types import UTCDateTime

CountKey = tuple[str, str, str]  # (policy id, platform, status)


@dataclass(frozen=True)
class StateFilter:
    policy_id: str | None = None
    platform: str | None = None
    practice: str | None = None


@dataclass(frozen=True)
class PairStateRow:
    device_id: str
    hostname: str
    platform: str
    practice: str | None
    policy_id: str
    status: str
    observed: str | None
    policy_version: str | None
    since: datetime | None
    last_seen: datetime | None
    failing_since: datetime | None


# `run` and `device` below are a mapped class or an alias of it (typed Any: SQLAlchemy's stubs
# cannot express "the class or its alias").


def _instant(value: datetime) -> ColumnElement[datetime]:
    return literal(value, UTCDateTime())


def _in_force(run: Any, at: datetime) -> ColumnElement[bool]:
    return and_(run.since <= _instant(at), or_(run.next_since.is_(None), run.next_since > _instant(at)))


def _status(
    session: Session,
    run: Any,
    device: Any,
    at: datetime,
    validity: timedelta,
) -> ColumnElement[str]:
    waiver = aliased(Waiver)
    waived = exists().where(
        waiver.policy_id == run.policy_id,
        or_(
            waiver.device_id == run.device_id,
            and_(waiver.device_id.is_(None), waiver.practice == device.practice),
        ),
        waiver.granted_at <= _instant(at),
        waiver.expires_at > _instant(at),
        or_(waiver.revoked_at.is_(None), waiver.revoked_at > _instant(at)),
    )
    graced = session.execute(select(Policy.id, Policy.grace_seconds).where(Policy.grace_seconds > 0)).all()
    whens: list[tuple[ColumnElement[bool], ColumnElement[str] | str]] = [
        (run.id.is_(None), "stale"),
        (run.last_seen < _instant(at - validity), "stale"),
        (run.status.in_(("pass", "not_applicable")), run.status),
        (waived, "waived"),
    ]
    if graced:
        cutoff = case(
            {pid: _instant(at - timedelta(seconds=seconds)) for pid, seconds in graced},
            value=run.policy_id,
            else_=null(),
        )
        whens.append((and_(run.status == "fail", run.failing_since > cutoff), "in_grace"))
    return case(*whens, else_=run.status).label("status")


def _conditions(
    device: type[Device], policy_column: ColumnElement[str], flt: StateFilter
) -> list[ColumnElement[bool]]:
    conditions = []
    if flt.policy_id is not None:
        conditions.append(policy_column == flt.policy_id)
    if flt.platform is not None:
        conditions.append(device.platform == flt.platform)
    if flt.practice is not None:
        conditions.append(device.practice == flt.practice)
    return conditions


def fleet_counts(
    session: Session, at: datetime, *, validity: timedelta, flt: StateFilter | None = None
) -> Counter[CountKey]:
    """How many pairs have each status at `at`, by (policy id, platform, status)."""
    flt = flt or StateFilter()
    status = _status(session, StatusRun, Device, at, validity)
    applies = exists().where(
        PolicyPlatform.policy_id == StatusRun.policy_id, PolicyPlatform.platform == Device.platform
    )
    with_run = (
        select(
            StatusRun.policy_id, Device.platform, status, applies.label("applies"), func.count().label("n")
        )
        .join(Device, Device.id == StatusRun.device_id)
        .where(_in_force(StatusRun, at), Device.enrolled_at <= _instant(at))
        .where(*_conditions(Device, StatusRun.policy_id.expression, flt))
        .group_by(StatusRun.policy_id, Device.platform, status, applies)
    )
    counts: Counter[CountKey] = Counter()
    covered: Counter[tuple[str, str]] = Counter()
    for policy_id, platform, state, applicable, n in session.execute(with_run):
        counts[(policy_id, platform, state)] += n
        if applicable:
            covered[(policy_id, platform)] += n
    applicable_pairs = (
        select(PolicyPlatform.policy_id, Device.platform, func.count())
        .join(Device, Device.platform == PolicyPlatform.platform)
        .where(Device.enrolled_at <= _instant(at))
        .where(*_conditions(Device, PolicyPlatform.policy_id.expression, flt))
        .group_by(PolicyPlatform.policy_id, Device.platform)
    )
    for policy_id, platform, n in session.execute(applicable_pairs):
        silent = n - covered[(policy_id, platform)]
        if silent:
            counts[(policy_id, platform, "stale")] += silent
    return counts


def fleet_pairs(
    session: Session,
    at: datetime,
    *,
    validity: timedelta,
    flt: StateFilter | None = None,
    status: str | None = None,
    after: tuple[str, str, str] | None = None,
    limit: int = 100,
) -> list[PairStateRow]:
    """One page of pairs at `at`, ordered by (hostname, device id, policy id), after a cursor."""
    flt = flt or StateFilter()
    run = aliased(StatusRun)
    state = _status(session, run, Device, at, validity)
    applies = exists().where(
        PolicyPlatform.policy_id == Policy.id, PolicyPlatform.platform == Device.platform
    )
    query = (
        select(
            Device.id,
            Device.hostname,
            Device.platform,
            Device.practice,
            Policy.id.label("policy_id"),
            state,
            run.status.label("observed"),
            run.policy_version,
            run.since,
            run.last_seen,
            run.failing_since,
        )
        .select_from(Device)
        .join(Policy, true())
        .outerjoin(run, and_(run.device_id == Device.id, run.policy_id == Policy.id, _in_force(run, at)))
        .where(Device.enrolled_at <= _instant(at), or_(run.id.is_not(None), applies))
        .where(*_conditions(Device, Policy.id.expression, flt))
        .order_by(Device.hostname, Device.id, Policy.id)
        .limit(limit)
    )
    if status is not None:
        query = query.where(state == literal(status, String()))
    if after is not None:
        query = query.where(tuple_(Device.hostname, Device.id, Policy.id) > tuple_(*after))
    return [
        PairStateRow(
            device_id=row[0],
            hostname=row[1],
            platform=row[2],
            practice=row[3],
            policy_id=row[4],
            status=row[5],
            observed=row[6],
            policy_version=row[7],
            since=row[8],
            last_seen=None if row[9] is None else min(row[9], at),
            failing_since=row[10],
        )
        for row in session.execute(query)
    ]
