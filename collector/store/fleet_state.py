"""The fleet's state at an instant, computed in SQL over `status_runs`.

The run in force for a pair at T is the single row with `since <= T < next_since` (or no next);
its auditor status follows `collector.domain.state` (same precedence, same boundaries):
stale when `last_seen < T - validity` (not_applicable instead when the policy does not apply to the
device's platform); pass / not_applicable as observed; waived when an active
waiver covers the pair; in_grace when failing and `failing_since > T - grace`; else fail/error.
Enrolled pairs that apply to the device's platform but have no run at T are stale.

`fleet_counts` aggregates without touching every (device, policy) combination: counts of pairs
with a run come from one pass over the runs in force, and pairs without one are the applicable
pairs minus those. `fleet_pairs` pages through pairs in (hostname, device id, policy id) order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
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
    text,
    true,
    tuple_,
    union,
)
from sqlalchemy.orm import Session, aliased

from collector.store.models import Device, Policy, PolicyPlatform, StatusRun, Waiver
from collector.store.types import UTCDateTime
from fleetward.policy.verdict import Status
from fleetward.status import OBSERVED_COMPLIANT, WAIVABLE, AuditStatus

CountKey = tuple[str, str, str]  # (policy id, platform, status)


@dataclass(frozen=True)
class StateFilter:
    policy_id: str | None = None
    platform: str | None = None
    practice: str | None = None
    device_id: str | None = None


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
    evidence: tuple[dict[str, str], ...] = ()
    error: str | None = None


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
    *,
    with_waivers: bool = True,
) -> ColumnElement[str]:
    """The auditor status of the run in force; `with_waivers=False` gives the status a waiver
    would replace (the counts add waivers separately, see `_waived_counts`)."""
    # Uncorrelated IN-subqueries over the (few) waivers active at T: PostgreSQL hashes each once
    # instead of probing the waivers table for every failing pair.
    active = _active_waiver(at)
    by_device = select(Waiver.device_id, Waiver.policy_id).where(Waiver.device_id.is_not(None), active)
    by_practice = select(Waiver.practice, Waiver.policy_id).where(
        Waiver.device_id.is_(None), Waiver.practice.is_not(None), active
    )
    waived = or_(
        tuple_(run.device_id, run.policy_id).in_(by_device),
        tuple_(device.practice, run.policy_id).in_(by_practice),
    )
    applies = exists().where(
        PolicyPlatform.policy_id == run.policy_id, PolicyPlatform.platform == device.platform
    )
    silent = run.last_seen < _instant(at - validity)
    whens: list[tuple[ColumnElement[bool], ColumnElement[str] | str]] = [
        (run.id.is_(None), AuditStatus.STALE.value),
        (and_(silent, ~applies), AuditStatus.NOT_APPLICABLE.value),
        (silent, AuditStatus.STALE.value),
        (run.status.in_([s.value for s in OBSERVED_COMPLIANT]), run.status),
    ]
    if with_waivers:
        whens.append((waived, AuditStatus.WAIVED.value))
    whens.append(
        (
            and_(run.status == Status.FAIL.value, run.failing_since > _grace_cutoff(session, at, run)),
            AuditStatus.IN_GRACE.value,
        )
    )
    return case(*whens, else_=run.status).label("status")


def _grace_cutoff(session: Session, at: datetime, run: Any = StatusRun) -> ColumnElement[datetime]:
    """`at - grace` of the run's policy (NULL without grace: nothing is in grace then)."""
    graced = session.execute(select(Policy.id, Policy.grace_seconds).where(Policy.grace_seconds > 0)).all()
    if not graced:
        return literal(None, UTCDateTime())
    return case(
        {pid: _instant(at - timedelta(seconds=seconds)) for pid, seconds in graced},
        value=run.policy_id,
        else_=null(),
    )


def _active_waiver(at: datetime) -> ColumnElement[bool]:
    return and_(
        Waiver.granted_at <= _instant(at),
        Waiver.expires_at > _instant(at),
        or_(Waiver.revoked_at.is_(None), Waiver.revoked_at > _instant(at)),
    )


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
    if flt.device_id is not None:
        conditions.append(device.id == flt.device_id)
    return conditions


def _tune(session: Session) -> None:
    """PostgreSQL: these are short analytic queries. JIT compilation costs more than it saves
    here (hundreds of ms per call), and hash aggregation needs more than the default work_mem."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL jit = off"))
        session.execute(text("SET LOCAL work_mem = '64MB'"))
        # The planner cannot estimate how few (policy, platform, status) groups there are and
        # would sort 1.5M rows; hashing them is far cheaper.
        session.execute(text("SET LOCAL enable_sort = off"))


@contextmanager
def page_plan(session: Session) -> Iterator[None]:
    """PostgreSQL, for one page of rows (a few hundred pairs): nested loops over the pair index,
    not the hash joins over every run in force that suit the aggregates (measured at 100,000
    devices: 1.2 s a page with hash joins, tens of ms without; bench/NOTES.md)."""
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        session.execute(text("SET LOCAL jit = off"))
        session.execute(text("SET LOCAL enable_hashjoin = off"))
        session.execute(text("SET LOCAL enable_sort = DEFAULT"))
    try:
        yield
    finally:
        if postgres:
            session.execute(text("SET LOCAL enable_hashjoin = DEFAULT"))


def fleet_counts(
    session: Session, at: datetime, *, validity: timedelta, flt: StateFilter | None = None
) -> Counter[CountKey]:
    """How many pairs have each status at `at`, by (policy id, platform, status)."""
    counts: Counter[CountKey] = Counter()
    for (policy_id, platform, _, state), n in practice_counts(
        session, at, validity=validity, flt=flt, by_practice=False
    ).items():
        counts[(policy_id, platform, state)] += n
    return counts


PracticeCountKey = tuple[str, str, str | None, str]  # (policy id, platform, practice, status)


def practice_counts(
    session: Session,
    at: datetime,
    *,
    validity: timedelta,
    flt: StateFilter | None = None,
    by_practice: bool = True,
) -> Counter[PracticeCountKey]:
    """How many pairs have each status at `at`, by (policy id, platform, practice, status);
    practice is None throughout when not `by_practice` (then it is not grouped on at all)."""
    flt = flt or StateFilter()
    _tune(session)
    practice: Any = Device.practice if by_practice else null()
    grouped_by_practice = [Device.practice] if by_practice else []
    # One pass over the runs in force, grouped by plain columns (policy, platform, observed
    # status) so PostgreSQL estimates a handful of groups and aggregates in parallel; stale and
    # in-grace pairs are counted with FILTER. No correlated subquery: waivers come after.
    # Silent on a policy that cannot apply to the platform (no PolicyPlatform row): not_applicable.
    applicable = PolicyPlatform.policy_id.is_not(None)
    silent = StatusRun.last_seen < _instant(at - validity)
    stale = and_(silent, applicable)
    in_grace = and_(
        ~silent, StatusRun.status == Status.FAIL.value, StatusRun.failing_since > _grace_cutoff(session, at)
    )
    with_run = (
        select(
            StatusRun.policy_id,
            Device.platform,
            practice,
            StatusRun.status,
            func.count(),
            func.count().filter(stale),
            func.count().filter(in_grace),
            func.count(PolicyPlatform.policy_id),
            func.count().filter(and_(silent, ~applicable)),
        )
        .join(Device, Device.id == StatusRun.device_id)
        .outerjoin(
            PolicyPlatform,
            and_(PolicyPlatform.policy_id == StatusRun.policy_id, PolicyPlatform.platform == Device.platform),
        )
        .where(_in_force(StatusRun, at), Device.enrolled_at <= _instant(at))
        .where(*_conditions(Device, StatusRun.policy_id.expression, flt))
        .group_by(StatusRun.policy_id, Device.platform, *grouped_by_practice, StatusRun.status)
    )
    counts: Counter[PracticeCountKey] = Counter()
    covered: Counter[tuple[str, str, str | None]] = Counter()
    for pid, platform, code, observed, total, n_stale, n_grace, n_applicable, n_na in session.execute(
        with_run
    ):
        counts[(pid, platform, code, AuditStatus.STALE)] += n_stale
        counts[(pid, platform, code, AuditStatus.IN_GRACE)] += n_grace
        counts[(pid, platform, code, AuditStatus.NOT_APPLICABLE)] += n_na
        counts[(pid, platform, code, observed)] += total - n_stale - n_grace - n_na
        covered[(pid, platform, code)] += n_applicable
    applicable_pairs = (
        select(PolicyPlatform.policy_id, Device.platform, practice, func.count())
        .join(Device, Device.platform == PolicyPlatform.platform)
        .where(Device.enrolled_at <= _instant(at))
        .where(*_conditions(Device, PolicyPlatform.policy_id.expression, flt))
        .group_by(PolicyPlatform.policy_id, Device.platform, *grouped_by_practice)
    )
    for pid, platform, code, n in session.execute(applicable_pairs):
        never_reported = n - covered[(pid, platform, code)]
        if never_reported:
            counts[(pid, platform, code, AuditStatus.STALE)] += never_reported
    for (pid, platform, code, state), n in _waived_counts(session, at, validity, flt, by_practice).items():
        counts[(pid, platform, code, state)] -= n
        counts[(pid, platform, code, AuditStatus.WAIVED)] += n
    return +counts


def _waived_counts(
    session: Session, at: datetime, validity: timedelta, flt: StateFilter, by_practice: bool
) -> Counter[PracticeCountKey]:
    """Pairs an active waiver turns into `waived`, by the status they would have without it.

    Driven from the few waivers active at T (device waivers through the pair index, practice
    waivers through the practice index), so it never scans the whole fleet.
    """
    active = select(Waiver.device_id, Waiver.practice, Waiver.policy_id).where(_active_waiver(at)).subquery()
    if session.execute(select(func.count()).select_from(active)).scalar_one() == 0:
        return Counter()
    for_devices = select(StatusRun.id).join(
        active, and_(active.c.device_id == StatusRun.device_id, active.c.policy_id == StatusRun.policy_id)
    )
    practice_device = aliased(Device)
    for_practices = (
        select(StatusRun.id)
        .select_from(active)
        .join(practice_device, practice_device.practice == active.c.practice)
        .join(
            StatusRun,
            and_(StatusRun.device_id == practice_device.id, StatusRun.policy_id == active.c.policy_id),
        )
        .where(active.c.device_id.is_(None))
    )
    covered = union(for_devices, for_practices).subquery()
    base = _status(session, StatusRun, Device, at, validity, with_waivers=False)
    practice: Any = Device.practice if by_practice else null()
    query = (
        select(StatusRun.policy_id, Device.platform, practice, base, func.count())
        .join(Device, Device.id == StatusRun.device_id)
        .where(
            StatusRun.id.in_(select(covered.c.id)),
            _in_force(StatusRun, at),
            Device.enrolled_at <= _instant(at),
        )
        .where(*_conditions(Device, StatusRun.policy_id.expression, flt))
        .group_by(StatusRun.policy_id, Device.platform, *([Device.practice] if by_practice else []), base)
    )
    return Counter(
        {
            (policy_id, platform, code, state): n
            for policy_id, platform, code, state, n in session.execute(query)
            if state in WAIVABLE
        }
    )


def pair_states(session: Session, at: datetime, *, validity: timedelta, flt: StateFilter) -> Any:
    """Every pair at `at` with its status (a SELECT to page, filter or aggregate further):
    device columns, policy id, status, and the run in force's columns (NULL without one)."""
    run = aliased(StatusRun)
    state = _status(session, run, Device, at, validity)
    applies = exists().where(
        PolicyPlatform.policy_id == Policy.id, PolicyPlatform.platform == Device.platform
    )
    return (
        select(
            Device.id.label("device_id"),
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
            run.evidence,
            run.error,
        )
        .select_from(Device)
        .join(Policy, true())
        .outerjoin(run, and_(run.device_id == Device.id, run.policy_id == Policy.id, _in_force(run, at)))
        .where(Device.enrolled_at <= _instant(at), or_(run.id.is_not(None), applies))
        .where(*_conditions(Device, Policy.id.expression, flt))
    )


def fleet_pairs(
    session: Session,
    at: datetime,
    *,
    validity: timedelta,
    flt: StateFilter | None = None,
    status: str | None = None,
    after: tuple[str, str, str] | None = None,
    limit: int = 100,
    with_evidence: bool = False,
    before: tuple[str, str, str] | None = None,
) -> list[PairStateRow]:
    """One page of pairs at `at`, ordered by (hostname, device id, policy id), after a cursor
    (or the page that ends just before `before`, for a link back)."""
    flt = flt or StateFilter()
    states = pair_states(session, at, validity=validity, flt=flt).subquery()
    columns = [c for c in states.c if with_evidence or c.name not in ("evidence", "error")]
    order = [states.c.hostname, states.c.device_id, states.c.policy_id]
    query = select(*columns).order_by(*(c.desc() for c in order) if before else order).limit(limit)
    if status is not None:
        query = query.where(states.c.status == literal(status, String()))
    if after is not None:
        query = query.where(tuple_(*order) > tuple_(*after))
    if before is not None:
        query = query.where(tuple_(*order) < tuple_(*before))
    with page_plan(session):
        rows = list(session.execute(query))
    if before is not None:
        rows.reverse()
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
            evidence=tuple(row[11] or ()) if with_evidence else (),
            error=row[12] if with_evidence else None,
        )
        for row in rows
    ]
