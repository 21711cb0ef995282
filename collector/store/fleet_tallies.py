"""Device-level numbers of the fleet at an instant, in SQL: what the dashboard shows.

Built on `fleet_state.pair_states` (the same status rule as `fleet_counts`, proven equal to the
pure derivation), aggregated twice in the database: per device (its pairs' statuses, its last
report, whether any pair of each control's policies is non-compliant), then per (platform,
practice). The result is small whatever the fleet size: one row per platform and practice.
`device_page` lists devices with their worst status, one page at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, literal, or_, select, tuple_
from sqlalchemy.orm import Session

from collector.store.fleet_state import StateFilter, _instant, _tune, page_plan, pair_states
from collector.store.models import Device
from fleetward.status import SEVERITY_ORDER, AuditStatus

_NONCOMPLIANT = [s.value for s in AuditStatus if not s.compliant]


@dataclass(frozen=True)
class GroupTally:
    """The devices of one (platform, practice) at an instant."""

    platform: str
    practice: str | None
    devices: int
    compliant_devices: int
    stale_devices: int
    status_counts: dict[AuditStatus, int]
    failing_sets: tuple[int, ...]  # devices with a non-compliant pair among each policy set


@dataclass(frozen=True)
class DeviceRow:
    device_id: str
    hostname: str
    platform: str
    practice: str | None
    last_seen: datetime | None
    status: AuditStatus | None  # worst of its pairs
    stale: bool


def _per_device(
    session: Session,
    at: datetime,
    validity: timedelta,
    flt: StateFilter,
    policy_sets: Sequence[frozenset[str]],
    ids: list[str] | None = None,
) -> Any:
    states = pair_states(session, at, validity=validity, flt=flt)
    if ids is not None:
        states = states.where(Device.id.in_(ids))
    states = states.subquery()
    noncompliant = states.c.status.in_(_NONCOMPLIANT)
    return (
        select(
            states.c.device_id,
            states.c.hostname,
            states.c.platform,
            states.c.practice,
            *[func.count().filter(states.c.status == s.value).label(f"n_{s.value}") for s in AuditStatus],
            func.max(states.c.last_seen).label("last_seen"),
            *[
                func.max(case((and_(noncompliant, states.c.policy_id.in_(sorted(ids))), 1), else_=0)).label(
                    f"set_{index}"
                )
                for index, ids in enumerate(policy_sets)
            ],
        )
        .group_by(states.c.device_id, states.c.hostname, states.c.platform, states.c.practice)
        .subquery()
    )


def _stale(per_device: Any, at: datetime, validity: timedelta) -> Any:
    # Same as the report: no pair ever seen, or the newest report older than the validity.
    return or_(per_device.c.last_seen.is_(None), per_device.c.last_seen < _instant(at - validity))


def _noncompliant_pairs(per_device: Any) -> Any:
    return sum((per_device.c[f"n_{s}"] for s in _NONCOMPLIANT), literal(0))


def device_tallies(
    session: Session,
    at: datetime,
    *,
    validity: timedelta,
    policy_sets: Sequence[frozenset[str]] = (),
    flt: StateFilter | None = None,
) -> list[GroupTally]:
    """Devices at `at` counted by (platform, practice); only devices with at least one pair."""
    flt = flt or StateFilter()
    sets = [s for s in policy_sets if s]
    _tune(session)
    per_device = _per_device(session, at, validity, flt, sets)
    compliant = case((_noncompliant_pairs(per_device) == 0, 1), else_=0)
    query = select(
        per_device.c.platform,
        per_device.c.practice,
        func.count(),
        func.sum(compliant),
        func.sum(case((_stale(per_device, at, validity), 1), else_=0)),
        *[func.sum(per_device.c[f"n_{s.value}"]) for s in AuditStatus],
        *[func.sum(per_device.c[f"set_{index}"]) for index in range(len(sets))],
    ).group_by(per_device.c.platform, per_device.c.practice)
    width = len(AuditStatus)
    tallies = []
    for row in session.execute(query):
        by_set = dict(zip(sets, (int(n) for n in row[5 + width :]), strict=True))
        tallies.append(
            GroupTally(
                platform=row[0],
                practice=row[1],
                devices=int(row[2]),
                compliant_devices=int(row[3]),
                stale_devices=int(row[4]),
                status_counts={s: int(n) for s, n in zip(AuditStatus, row[5 : 5 + width], strict=True)},
                failing_sets=tuple(by_set.get(s, 0) for s in policy_sets),
            )
        )
    return tallies


def _worst_rank(per_device: Any) -> Any:
    """Index of the worst status in SEVERITY_ORDER (0 = fail)."""
    return case(
        *[(per_device.c[f"n_{s.value}"] > 0, rank) for rank, s in enumerate(SEVERITY_ORDER)],
        else_=len(SEVERITY_ORDER),
    )


def device_page(
    session: Session,
    at: datetime,
    *,
    validity: timedelta,
    flt: StateFilter | None = None,
    worst: AuditStatus | None = None,
    after: tuple[str, str] | None = None,
    limit: int = 50,
    before: tuple[str, str] | None = None,
) -> list[DeviceRow]:
    """Devices at `at` ordered by (hostname, device id) after a cursor (or the page ending just
    before `before`), with their worst status.

    Without a status to match, only the page's devices are derived (the device table is paged
    first); with one, every device's pairs are, since the worst status is known only then.
    """
    flt = flt or StateFilter()
    _tune(session)
    ids = None
    if worst is None:
        # Page the device table first; a device without pairs at `at` is skipped, so read ahead.
        keys = (Device.hostname, Device.id)
        page = (
            select(Device.id)
            .where(Device.enrolled_at <= _instant(at))
            .order_by(*(k.desc() for k in keys) if before else keys)
            .limit(limit * 2 + 10)
        )
        if flt.platform is not None:
            page = page.where(Device.platform == flt.platform)
        if flt.practice is not None:
            page = page.where(Device.practice == flt.practice)
        if after is not None:
            page = page.where(tuple_(*keys) > tuple_(*after))
        if before is not None:
            page = page.where(tuple_(*keys) < tuple_(*before))
        ids = [row[0] for row in session.execute(page)]
        if not ids:
            return []
    per_device = _per_device(session, at, validity, flt, (), ids)
    rank = _worst_rank(per_device)
    order = [per_device.c.hostname, per_device.c.device_id]
    query = (
        select(
            per_device.c.device_id,
            per_device.c.hostname,
            per_device.c.platform,
            per_device.c.practice,
            per_device.c.last_seen,
            rank,
            _stale(per_device, at, validity),
        )
        .order_by(*(c.desc() for c in order) if before else order)
        .limit(limit)
    )
    if after is not None:
        query = query.where(tuple_(*order) > tuple_(*after))
    if before is not None:
        query = query.where(tuple_(*order) < tuple_(*before))
    if worst is not None:
        query = query.where(rank == SEVERITY_ORDER.index(worst))
    if ids is None:
        rows = [_device_row(row) for row in session.execute(query)]
    else:
        with page_plan(session):
            rows = [_device_row(row) for row in session.execute(query)]
    return rows[::-1] if before is not None else rows


def _device_row(row: Any) -> DeviceRow:
    rank = int(row[5])
    return DeviceRow(
        device_id=row[0],
        hostname=row[1],
        platform=row[2],
        practice=row[3],
        last_seen=row[4],
        status=SEVERITY_ORDER[rank] if rank < len(SEVERITY_ORDER) else None,
        stale=bool(row[6]),
    )
