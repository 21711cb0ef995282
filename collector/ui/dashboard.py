"""The dashboard's numbers at an instant or over a period, from SQL aggregates, cached.

Every number here is the JSON report's (collector.reports.build) for the same instant, computed
without loading the history: pair counts from `fleet_state.practice_counts`, device numbers and
controls from `fleet_tallies.device_tallies`, breaches from the failing runs
(`store.breaches`), the trend from the daily rollups (`store.rollups.trend_counts`). What this
holds is small whatever the fleet size (a row per policy, platform, practice, control and day);
lists of devices, pairs and breaches are read a page at a time by the router.

`cached_dashboard` keeps the last `CACHE_SIZE` snapshots keyed by (database, instant, period,
data version): a repeated view at the same instant is not recomputed until ingestion, an
enrolment, a waiver or a policy change moves the data version.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from collector.domain.fleet import FleetHistory
from collector.reports.baselines import baseline_views
from collector.reports.build import _rate, _scope, _waivers, policy_fields
from collector.reports.controls import ControlDefinition, control_definitions
from collector.reports.model import (
    BaselineView,
    ControlRollup,
    PlatformRollup,
    Rate,
    Scope,
    Summary,
    TrendPoint,
)
from collector.reports.timeline import trend_samples
from collector.store.breaches import breaches
from collector.store.fleet_state import fleet_counts
from collector.store.fleet_tallies import GroupTally, device_tallies
from collector.store.history import load_frame
from collector.store.models import Device, IngestedReport
from collector.store.rollups import data_version, trend_counts
from fleetward.policy.model import Platform
from fleetward.status import AuditStatus

CACHE_SIZE = 16


@dataclass(frozen=True)
class PolicyRow:
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
    status_counts: dict[AuditStatus, int]


@dataclass(frozen=True)
class PracticeRow:
    practice: str | None
    devices: Rate
    pairs: Rate
    status_counts: dict[AuditStatus, int]
    breaches: int
    ongoing_breaches: int
    stale_devices: int


@dataclass(frozen=True)
class Dashboard:
    scope: Scope
    source: str
    summary: Summary
    policies: list[PolicyRow]
    platforms: list[PlatformRollup]
    practices: list[PracticeRow]
    controls: list[ControlRollup]
    baselines: list[BaselineView]
    trend: list[TrendPoint]
    version: str

    @property
    def frameworks(self) -> list[tuple[str, str]]:
        return sorted({(c.framework, c.framework_title) for c in self.controls})


def _full(counts: Mapping[AuditStatus, int]) -> dict[AuditStatus, int]:
    return {s: int(counts.get(s, 0)) for s in AuditStatus}


def build_dashboard(
    session: Session,
    *,
    at: datetime | None,
    period: tuple[datetime, datetime] | None,
    validity: timedelta,
    now: datetime,
    source: str,
    version: str = "",
) -> Dashboard:
    frame = load_frame(session, validity=validity)
    scope = _scope(frame, at, period, None)
    at = scope.at
    policies = sorted(frame.policies, key=lambda p: p.id)
    definitions = control_definitions(frame, policies, None).definitions
    # Pairs by policy from the runs in force; by platform and practice from the device tallies
    # (the same pairs, summed per device inside the database).
    by_policy: dict[str, Counter[AuditStatus]] = defaultdict(Counter)
    for (policy_id, _, status), n in fleet_counts(session, at, validity=validity).items():
        by_policy[policy_id][AuditStatus(status)] += n
    overall: Counter[AuditStatus] = sum(by_policy.values(), Counter())
    tallies = device_tallies(session, at, validity=validity, policy_sets=[d.policy_ids for d in definitions])
    by_platform: dict[str, Counter[AuditStatus]] = defaultdict(Counter)
    by_practice: dict[str | None, Counter[AuditStatus]] = defaultdict(Counter)
    for t in tallies:
        by_platform[t.platform].update(t.status_counts)
        by_practice[t.practice].update(t.status_counts)
    samples = trend_samples(scope.trend_start, at)
    found = breaches(session, [instant for _, instant in samples], validity=validity)
    breached: dict[str | None, list[bool]] = defaultdict(list)
    for breach in found:
        breached[breach.practice].append(breach.ongoing)
    devices = sum(t.devices for t in tallies)
    trend = [
        TrendPoint(day=day.date(), at=instant, pairs=_rate(_full(c)), status_counts=_full(c))
        for (day, instant), c in zip(
            samples,
            trend_counts(session, samples, validity=validity, now=now, at_instant=overall),
            strict=True,
        )
    ]
    waivers = _waivers(frame, policies, scope, {})
    summary = Summary(
        devices=devices,
        pairs=_rate(_full(overall)),
        devices_compliant=Rate.of(sum(t.compliant_devices for t in tallies), devices),
        status_counts=_full(overall),
        stale_devices=sum(t.stale_devices for t in tallies),
        breaches=len(found),
        ongoing_breaches=sum(b.ongoing for b in found),
        active_waivers=sum(w.state == "active" for w in waivers),
        waivers_expiring_soon=sum(w.expiring_soon for w in waivers),
        late_observations=_late_results(session, scope.trend_start, at),
    )
    return Dashboard(
        scope=scope,
        source=source,
        summary=summary,
        policies=[
            PolicyRow(
                **policy_fields(p),
                pairs=_rate(_full(by_policy[p.id])),
                status_counts=_full(by_policy[p.id]),
            )
            for p in policies
        ],
        platforms=_platforms(tallies, by_platform),
        practices=_practices(tallies, by_practice, breached),
        controls=_controls(frame, definitions, tallies),
        baselines=baseline_views(frame, policies, at),
        trend=trend,
        version=version,
    )


def _platforms(
    tallies: list[GroupTally], by_platform: dict[str, Counter[AuditStatus]]
) -> list[PlatformRollup]:
    devices: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for t in tallies:
        devices[t.platform][0] += t.compliant_devices
        devices[t.platform][1] += t.devices
    return [
        PlatformRollup(
            platform=Platform(platform),
            devices=Rate.of(*devices[platform]),
            pairs=_rate(_full(by_platform[platform])),
            status_counts=_full(by_platform[platform]),
        )
        for platform in sorted(devices)
    ]


def _practices(
    tallies: list[GroupTally],
    by_practice: dict[str | None, Counter[AuditStatus]],
    breached: dict[str | None, list[bool]],
) -> list[PracticeRow]:
    members: dict[str | None, list[int]] = defaultdict(lambda: [0, 0, 0])
    for t in tallies:
        row = members[t.practice]
        row[0] += t.compliant_devices
        row[1] += t.devices
        row[2] += t.stale_devices
    return [
        PracticeRow(
            practice=practice,
            devices=Rate.of(members[practice][0], members[practice][1]),
            pairs=_rate(_full(by_practice[practice])),
            status_counts=_full(by_practice[practice]),
            breaches=len(breached[practice]),
            ongoing_breaches=sum(breached[practice]),
            stale_devices=members[practice][2],
        )
        for practice in sorted(members, key=lambda p: (p is None, p or ""))
    ]


def _controls(
    frame: FleetHistory, definitions: list[ControlDefinition], tallies: list[GroupTally]
) -> list[ControlRollup]:
    platforms_of = {p.id: {platform.value for platform in p.platforms} for p in frame.policies}
    rollups = []
    for index, d in enumerate(definitions):
        scoped = set().union(*(platforms_of.get(pid, set()) for pid in d.policy_ids))
        in_scope = [t for t in tallies if t.platform in scoped]
        total = sum(t.devices for t in in_scope)
        failing = sum(t.failing_sets[index] for t in in_scope)
        rollups.append(
            ControlRollup(
                framework=d.framework,
                framework_title=d.framework_title,
                control=d.control,
                control_title=d.control_title,
                policy_ids=sorted(d.policy_ids),
                devices=Rate.of(total - failing, total),
            )
        )
    return rollups


def _late_results(session: Session, start: datetime, at: datetime) -> int:
    """Results of late reports observed in [start, at] from devices enrolled by `at`."""
    total = session.execute(
        select(func.coalesce(func.sum(IngestedReport.late_results), 0))
        .join(Device, Device.id == IngestedReport.device_id)
        .where(
            IngestedReport.late_results > 0,
            IngestedReport.observed_at >= start,
            IngestedReport.observed_at <= at,
            Device.enrolled_at <= at,
        )
    ).scalar_one()
    return int(total)


class SnapshotCache:
    """The last few dashboards, least recently used out first (bounded memory)."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self._size = size
        self._items: OrderedDict[tuple[object, ...], Dashboard] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[object, ...]) -> Dashboard | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple[object, ...], value: Dashboard) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


_CACHE = SnapshotCache()


def cached_dashboard(
    session: Session,
    *,
    database: str,
    at: datetime | None,
    period: tuple[datetime, datetime] | None,
    validity: timedelta,
    now: datetime,
    source: str,
) -> Dashboard:
    """The dashboard for (instant or period) at the store's current data version, from the cache
    when the same view was built since the last change. `session` must be writable: days of the
    trend without a valid rollup are computed and kept."""
    version = data_version(session)
    key = (database, at, period, validity, version)
    found = _CACHE.get(key)
    if found is None:
        found = build_dashboard(
            session, at=at, period=period, validity=validity, now=now, source=source, version=version
        )
        _CACHE.put(key, found)
    return found
