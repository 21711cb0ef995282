"""Daily rollups: pairs by status at the end of each closed UTC day, pre-aggregated for trends.

A day's rollup is `practice_counts` at the day's end (the next midnight UTC, the instant a
report's trend samples that day at), by policy, platform and practice. It is computed by a job,
never by ingestion: `fleetward collector rollup` (schedule it after midnight), or lazily by the
first dashboard view that needs a day (`daily_counts`), and kept until something changes the
past it summarises:

- a report received since the day was computed and observed at or before the day's end (a late
  or delayed observation: what a report observed at t changes is the state from t on);
- a device enrolled since then at or before the day's end, or re-enrolled at all (its practice or
  platform may have changed);
- any change to the policies, their platforms or the waivers (the fingerprint), since a waiver
  granted or a grace changed alters past statuses too. These are rare; every day is recomputed.

Reports still being committed when a day is computed are caught by looking back `MARGIN` from the
computation time. See docs/auditors.md, "Trends and the dashboard".
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from collector.store.fleet_state import StateFilter, practice_counts
from collector.store.models import (
    DailyRollup,
    Device,
    IngestedReport,
    Policy,
    PolicyPlatform,
    RollupDay,
    StatusRun,
    Waiver,
)
from fleetward.bounds import EARLIEST
from fleetward.status import AuditStatus

MARGIN = timedelta(minutes=5)  # longer than any ingestion transaction


def day_end(day: date) -> datetime:
    """The instant a day is sampled at: its end, the next midnight UTC."""
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)


def fingerprint(session: Session) -> str:
    """Digest of what changes past statuses other than reports and enrolments: policies (grace,
    versions), their platforms, and waivers (granted, revoked, expiry). Cheap: aggregates of
    small tables."""
    parts = [
        # Content, not `updated_at`: the collector re-registers its catalogue at every start.
        tuple(session.execute(select(Policy.id, Policy.version, Policy.grace_seconds).order_by(Policy.id))),
        session.execute(select(func.count()).select_from(PolicyPlatform)).one(),
        session.execute(
            select(
                func.count(),
                func.max(Waiver.granted_at),
                func.max(Waiver.expires_at),
                func.max(Waiver.revoked_at),
                func.count(Waiver.revoked_at),
            )
        ).one(),
    ]
    return hashlib.sha256(repr([tuple(p) for p in parts]).encode()).hexdigest()


def data_version(session: Session) -> str:
    """Changes whenever ingestion, enrolment, waivers or policies change what the store says.

    Read with index lookups only: the newest report received (and how many share its instant),
    the newest enrolment, and the fingerprint above."""
    newest = select(func.max(IngestedReport.received_at)).scalar_subquery()
    reports = session.execute(
        select(newest, select(func.count()).where(IngestedReport.received_at == newest).scalar_subquery())
    ).one()
    devices = session.execute(
        select(func.count(), func.max(Device.enrolled_at), func.max(Device.last_enrolled_at))
    ).one()
    return hashlib.sha256(repr((tuple(reports), tuple(devices), fingerprint(session))).encode()).hexdigest()[
        :32
    ]


def _earliest_touch(session: Session, since: datetime) -> datetime | None:
    """The earliest instant whose state a change made after `since` may have altered."""
    cutoff = since - MARGIN
    touched = [
        session.execute(
            select(func.min(IngestedReport.observed_at)).where(IngestedReport.received_at > cutoff)
        ).scalar_one(),
        session.execute(select(func.min(Device.enrolled_at)).where(Device.enrolled_at > cutoff)).scalar_one(),
    ]
    if session.execute(select(func.count()).where(Device.last_enrolled_at > cutoff)).scalar_one():
        touched.append(EARLIEST)
    found = [t for t in touched if t is not None]
    return min(found) if found else None


def stale_days(session: Session, days: Iterable[date]) -> list[date]:
    """The days among `days` without a valid rollup."""
    wanted = sorted(set(days))
    if not wanted:
        return []
    current = fingerprint(session)
    rows = {r.day: r for r in session.scalars(select(RollupDay).where(RollupDay.day.in_(wanted)))}
    touch_since: dict[datetime, datetime | None] = {}
    stale = []
    for day in wanted:
        row = rows.get(day)
        if row is None or row.fingerprint != current:
            stale.append(day)
            continue
        if row.computed_at not in touch_since:
            touch_since[row.computed_at] = _earliest_touch(session, row.computed_at)
        touched = touch_since[row.computed_at]
        if touched is not None and touched <= day_end(day):
            stale.append(day)
    return stale


def refresh_rollups(
    session: Session, days: Iterable[date], *, validity: timedelta, now: datetime
) -> list[date]:
    """Compute the closed days among `days` whose rollup is missing or out of date; returns them."""
    closed = [d for d in days if day_end(d) <= now]
    todo = stale_days(session, closed)
    if not todo:
        return []
    current = fingerprint(session)
    for day in todo:
        counts = practice_counts(session, day_end(day), validity=validity)
        session.execute(delete(DailyRollup).where(DailyRollup.day == day))
        session.execute(delete(RollupDay).where(RollupDay.day == day))
        if counts:
            session.execute(
                insert(DailyRollup),
                [
                    {
                        "day": day,
                        "policy_id": policy_id,
                        "platform": platform,
                        "practice": practice or "",
                        "status": str(status),
                        "pairs": n,
                    }
                    for (policy_id, platform, practice, status), n in counts.items()
                ],
            )
        session.add(RollupDay(day=day, computed_at=now, fingerprint=current))
        session.flush()
    return todo


@dataclass(frozen=True)
class RollupFilter:
    policy_id: str | None = None
    platform: str | None = None
    practice: str | None = None  # "" for devices without a practice


def daily_counts(
    session: Session,
    start: date,
    end: date,
    *,
    validity: timedelta,
    now: datetime,
    flt: RollupFilter | None = None,
) -> dict[date, Counter[AuditStatus]]:
    """Pairs by status at the end of each closed day from `start` to `end` (inclusive), from the
    rollups; out-of-date days are recomputed first (the session must be writable then)."""
    flt = flt or RollupFilter()
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    try:
        with session.begin_nested():
            refresh_rollups(session, days, validity=validity, now=now)
    except IntegrityError:
        pass  # another request computed the same day at the same time; its rows are as good
    query = (
        select(DailyRollup.day, DailyRollup.status, func.sum(DailyRollup.pairs))
        .where(DailyRollup.day >= start, DailyRollup.day <= end)
        .group_by(DailyRollup.day, DailyRollup.status)
    )
    if flt.policy_id is not None:
        query = query.where(DailyRollup.policy_id == flt.policy_id)
    if flt.platform is not None:
        query = query.where(DailyRollup.platform == flt.platform)
    if flt.practice is not None:
        query = query.where(DailyRollup.practice == flt.practice)
    result: dict[date, Counter[AuditStatus]] = {d: Counter() for d in days if day_end(d) <= now}
    for day, status, n in session.execute(query):
        if day in result:
            result[day][AuditStatus(status)] += int(n)
    return result


def live_counts(
    session: Session, at: datetime, *, validity: timedelta, flt: RollupFilter | None = None
) -> Counter[AuditStatus]:
    """The same numbers for an instant no rollup holds (the trend's last point, the instant itself)."""
    flt = flt or RollupFilter()
    state_filter = StateFilter(policy_id=flt.policy_id, platform=flt.platform, practice=flt.practice or None)
    counts: Counter[AuditStatus] = Counter()
    for (_, _, practice, status), n in practice_counts(
        session, at, validity=validity, flt=state_filter, by_practice=flt.practice == ""
    ).items():
        if flt.practice != "" or practice is None:
            counts[AuditStatus(status)] += n
    return counts


def closed_days(samples: Sequence[tuple[datetime, datetime]]) -> list[date]:
    """The trend samples that are whole days (sampled at their end), as dates."""
    return [day.date() for day, instant in samples if instant == day_end(day.date())]


def trend_counts(
    session: Session,
    samples: Sequence[tuple[datetime, datetime]],
    *,
    validity: timedelta,
    now: datetime,
    flt: RollupFilter | None = None,
    at_instant: Counter[AuditStatus] | None = None,
) -> list[Counter[AuditStatus]]:
    """Pairs by status at each trend sample, as the report's trend counts them: closed days from
    the rollups, any other sample (the report instant) live, and the pairs the report holds at
    its instant that did not exist yet at a sample counted there as stale (see below).
    `at_instant`: the counts at the last sample when the caller has them already."""
    if not samples:
        return []
    flt = flt or RollupFilter()
    days = closed_days(samples)
    rolled = daily_counts(session, min(days), max(days), validity=validity, now=now, flt=flt) if days else {}
    points = []
    for day, instant in samples:
        counts = rolled.get(day.date()) if instant == day_end(day.date()) else None
        points.append(
            counts if counts is not None else live_counts(session, instant, validity=validity, flt=flt)
        )
    for enrolled_at, first_report in _not_yet_reported(session, samples[0][1], samples[-1][1], flt):
        for index, (_, instant) in enumerate(samples):
            if enrolled_at <= instant < first_report:
                points[index][AuditStatus.STALE] += 1
    return points


def _not_yet_reported(
    session: Session, first: datetime, at: datetime, flt: RollupFilter
) -> list[tuple[datetime, datetime]]:
    """(enrolled_at, first report) of pairs whose policy does not apply to the device's platform
    and that were first reported after `first` and by `at`. The report holds them (reported by its
    instant) and, before their first report, finds no run: stale. `practice_counts` at an earlier
    sample leaves them out (not applicable and not reported then)."""
    applying = set(session.execute(select(PolicyPlatform.policy_id, PolicyPlatform.platform)).tuples())
    platforms = [p for (p,) in session.execute(select(Device.platform).distinct())]
    policies = [p for (p,) in session.execute(select(Policy.id))]
    lacking = sorted({pid for pid in policies for platform in platforms if (pid, platform) not in applying})
    if not lacking:
        return []  # every policy applies to every platform in the fleet: no such pairs
    first_since = func.min(StatusRun.since)
    query = (
        select(Device.enrolled_at, first_since)
        .join(Device, Device.id == StatusRun.device_id)
        .join(Policy, Policy.id == StatusRun.policy_id)
        .outerjoin(
            PolicyPlatform,
            (PolicyPlatform.policy_id == StatusRun.policy_id) & (PolicyPlatform.platform == Device.platform),
        )
        .where(StatusRun.policy_id.in_(lacking), PolicyPlatform.policy_id.is_(None), Device.enrolled_at <= at)
        .group_by(StatusRun.device_id, StatusRun.policy_id, Device.enrolled_at)
        .having(first_since > first, first_since <= at)
    )
    if flt.policy_id is not None:
        query = query.where(StatusRun.policy_id == flt.policy_id)
    if flt.platform is not None:
        query = query.where(Device.platform == flt.platform)
    if flt.practice is not None:
        query = query.where(
            Device.practice.is_(None) if flt.practice == "" else Device.practice == flt.practice
        )
    return [(row[0], row[1]) for row in session.execute(query)]
