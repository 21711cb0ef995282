"""`build_report`: a `FleetHistory` in, a `ComplianceReport` out. Pure and deterministic.

Everything is sorted and `generated_at` is passed in, so the same history gives the same report
and the same digest. Statuses come from the domain (`pair_state_at`); this module only counts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from collector.domain.fleet import DeviceRecord, FleetHistory, PolicyRecord
from collector.domain.state import AuditStatus, worst
from collector.reports.baselines import baseline_views
from collector.reports.canonical import UNSET_DIGEST, report_digest
from collector.reports.controls import ControlTally, control_definitions
from collector.reports.errors import ReportInputError
from collector.reports.model import (
    TREND_DAYS_FOR_INSTANT,
    BreachView,
    BundleView,
    ComplianceReport,
    DeviceView,
    PairView,
    PlatformRollup,
    PolicyView,
    Rate,
    Scope,
    StaleDeviceView,
    StatusTally,
    Summary,
    TrendPoint,
    WaiverView,
    trusted,
)
from collector.reports.practices import PracticeTally, late_views
from collector.reports.timeline import (
    Pair,
    RunSource,
    WaiverIndex,
    device_pairs,
    sample_states,
    trend_samples,
)
from fleetward.bounds import EARLIEST, LATEST
from fleetward.policy.verdict import Status

Progress = Callable[[int, int], None]
# The trend's one seam: (scope, the (day, instant) samples) -> one point per sample. None: counted
# from every pair's sampled states, as the pure reference does; a store can answer it from daily
# rollups instead (collector.reports.stream.ReportRequest.trend).
TrendSource = Callable[[Scope, Sequence[tuple[datetime, datetime]]], list[TrendPoint]]
# Why a pair passed is evidence too ("show me why this laptop passed encryption"): kept for every
# verdict osquery gave, bounded as the agent bounds it (fleetward.policy.verdict.cap_evidence).
_EVIDENCE_KEPT_FOR = (Status.PASS, Status.FAIL, Status.ERROR)
_COMPLIANT = frozenset(s for s in AuditStatus if s.compliant)
_PROGRESS_EVERY = 2000
_DAY = timedelta(days=1)
# A period report samples every day: three years is an audit cycle and keeps a report bounded.
MAX_PERIOD = timedelta(days=3 * 366)


def policy_fields(policy: PolicyRecord) -> dict[str, Any]:
    """A policy's description as the report's `PolicyView` and the dashboard's `PolicyRow` share
    it (one mapping for both): sorted, so the same catalogue reads the same everywhere."""
    return {
        "id": policy.id,
        "title": policy.title,
        "severity": policy.severity,
        "platforms": sorted(policy.platforms),
        "grace": policy.grace,
        "version": policy.version,
        "baseline": policy.baseline,
        "frameworks": {k: sorted(v) for k, v in sorted(policy.frameworks.items())},
        "remediation": policy.remediation,
    }


def build_report(
    history: FleetHistory,
    *,
    at: datetime | None,
    period: tuple[datetime, datetime] | None,
    framework: str | None,
    generated_at: datetime,
    source: str,
    progress: Progress | None = None,
    known_at: datetime | None = None,
) -> ComplianceReport:
    """`known_at`: the knowledge instant the report states when the history holds everything
    (`history.known_at` is None); by default `generated_at`."""
    devices_out: list[DeviceView] = []
    pairs_out: list[PairView] = []
    builder = ReportBuilder(
        history,
        at=at,
        period=period,
        framework=framework,
        on_device=devices_out.append,
        on_pair=pairs_out.append,
        known_at=known_at,
    )
    devices = sorted(history.devices, key=lambda d: (d.hostname, d.device_id))
    for done, device in enumerate(devices, start=1):
        builder.add(history, device)
        if progress is not None and (done % _PROGRESS_EVERY == 0 or done == len(devices)):
            progress(done, len(devices))
    report = builder.finish(generated_at=generated_at, source=source, devices=devices_out, pairs=pairs_out)
    return report.model_copy(update={"digest": report_digest(report)})


class ReportBuilder:
    """`build_report` one device at a time: devices must come in (hostname, device id) order, and
    each device's views go to `on_device` and its pairs' to `on_pair` (after its pairs) as they are
    made, so a caller can write them out instead of keeping them (collector.reports.stream).
    `context` gives everything but the devices; `add` reads each device's runs from `runs`."""

    def __init__(
        self,
        context: FleetHistory,
        *,
        at: datetime | None,
        period: tuple[datetime, datetime] | None,
        framework: str | None,
        on_device: Callable[[DeviceView], object],
        on_pair: Callable[[PairView], object],
        trend: TrendSource | None = None,
        known_at: datetime | None = None,
    ) -> None:
        self.context = context
        self.trend_source = trend
        self.scope = _scope(context, at, period, framework)
        explicit = context.known_at or known_at
        if explicit:  # else the report's generation instant, given to `finish`
            self.scope = _known(self.scope, explicit)
        self.policies = sorted(
            (p for p in context.policies if framework is None or framework in p.frameworks),
            key=lambda p: p.id,
        )
        self.index = WaiverIndex(context.waivers)
        samples = trend_samples(self.scope.trend_start, self.scope.at)
        controls = control_definitions(context, self.policies, framework)
        late = {r.device_id for r in context.late_reports}
        self.tally = _Tally(self.scope, samples, controls, on_device, on_pair, late)

    def add(self, runs: RunSource, device: DeviceRecord) -> None:
        pairs = device_pairs(runs, device, self.policies, self.index, self.scope.at)
        if pairs:
            self.tally.add_device(device, pairs)

    def finish(
        self, *, generated_at: datetime, source: str, devices: list[DeviceView], pairs: list[PairView]
    ) -> ComplianceReport:
        """The report with `devices` and `pairs` as given (empty when they were streamed out) and
        its digest unset: the caller digests it (collector.reports.canonical)."""
        tally, scope, context = self.tally, self.scope, self.context
        if scope.known_at is None:
            scope = scope.model_copy(update={"known_at": generated_at.astimezone(UTC)})
        waivers = _waivers(context, self.policies, scope, tally.waived_pairs)
        breaches = sorted(tally.breaches, key=lambda b: (-b.days_beyond_grace, b.device_id, b.policy_id))
        late = late_views(context, tally.late_hostnames, scope.trend_start, scope.at)
        return ComplianceReport.model_construct(
            schema_id="fleetward.compliance-report/v1",
            generated_at=generated_at.astimezone(UTC),
            source=source,
            scope=scope,
            summary=tally.summary(active_waivers=sum(w.state == "active" for w in waivers)).model_copy(
                update={
                    "late_observations": sum(v.late_results for v in late),
                    "waivers_expiring_soon": sum(w.expiring_soon for w in waivers),
                }
            ),
            policies=[tally.policy_view(p) for p in self.policies],
            platforms=tally.platform_rollups(),
            practices=tally.practices.rollups(),
            controls=tally.controls.rollups(),
            devices=devices,
            pairs=pairs,
            breaches=breaches,
            stale_devices=tally.stale,
            waivers=waivers,
            bundles=_bundles(context, scope.at),
            late_observations=late,
            baselines=baseline_views(context, self.policies, scope.at),
            trend=tally.trend() if self.trend_source is None else self.trend_source(scope, tally.samples),
            digest=UNSET_DIGEST,
        )


def _scope(
    history: FleetHistory,
    at: datetime | None,
    period: tuple[datetime, datetime] | None,
    framework: str | None,
) -> Scope:
    if (at is None) == (period is None):
        raise ReportInputError("give either an instant (--at) or a period (--from and --to), not both")
    for instant in (at, *(period or ())):
        if instant is not None and instant.tzinfo is None:
            raise ReportInputError(
                f"{instant.isoformat()} has no time zone; add Z or an offset such as +01:00"
            )
        if instant is not None and not EARLIEST <= instant < LATEST:
            raise ReportInputError(
                f"{instant.isoformat()} is outside the years {EARLIEST.year} to {LATEST.year - 1}"
            )
    if framework is not None:
        known = sorted(set(history.controls) | {f for p in history.policies for f in p.frameworks})
        if framework not in known:
            raise ReportInputError(
                f"unknown framework {framework!r}; known frameworks: {', '.join(known) or 'none'}"
            )
    if period is not None:
        start, end = (instant.astimezone(UTC) for instant in period)
        if start >= end:
            raise ReportInputError(f"the period must start before it ends (--from {start} --to {end})")
        if end - start > MAX_PERIOD:
            raise ReportInputError(
                f"the period from {start.date()} to {end.date()} is longer than {MAX_PERIOD.days} days; "
                "build one report per audit year"
            )
        return Scope(
            kind="period",
            at=end,
            period_start=start,
            trend_start=start,
            framework=framework,
            validity=history.validity,
        )
    assert at is not None
    instant = at.astimezone(UTC)
    return Scope(
        kind="instant",
        at=instant,
        period_start=None,
        framework=framework,
        validity=history.validity,
        trend_start=instant - TREND_DAYS_FOR_INSTANT * _DAY,
    )


def _known(scope: Scope, known_at: datetime) -> Scope:
    """A report states what it knew: its instant may not be after its knowledge instant."""
    known = known_at.astimezone(UTC)
    if scope.at > known:
        raise ReportInputError(
            f"the report's instant {scope.at.isoformat()} is after its knowledge instant "
            f"{known.isoformat()}: nothing received by then can say what held later; give an instant "
            "(--at, or --to for a period) at or before --as-known-at"
        )
    return scope.model_copy(update={"known_at": known})


def _counts() -> dict[AuditStatus, int]:
    return dict.fromkeys(AuditStatus, 0)


def _rate(counts: StatusTally) -> Rate:
    """Compliant pairs among the pairs a policy applies to: a policy that cannot apply to a device
    is neither evidence of compliance nor of its absence, so not_applicable stays out of both."""
    applicable = {s: n for s, n in counts.items() if s is not AuditStatus.NOT_APPLICABLE}
    return Rate.of(sum(n for s, n in applicable.items() if s.compliant), sum(applicable.values()))


def _days(delta: timedelta) -> float:
    return round(delta / _DAY, 2)


class _Tally:
    """Running counts over the devices, one device at a time, so no pair outlives its row."""

    def __init__(
        self,
        scope: Scope,
        samples: Sequence[tuple[datetime, datetime]],
        controls: ControlTally,
        on_device: Callable[[DeviceView], object],
        on_pair: Callable[[PairView], object],
        late_devices: set[str],
    ) -> None:
        self.scope = scope
        self.samples = samples
        self.instants = [instant for _, instant in samples]
        self.controls = controls
        self.overall = _counts()
        self.by_policy: dict[str, dict[AuditStatus, int]] = defaultdict(_counts)
        self.other_versions: dict[str, int] = defaultdict(int)
        self.by_platform: dict[str, dict[AuditStatus, int]] = defaultdict(_counts)
        self.platform_devices: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        self.trend_diff = {status: [0] * (len(samples) + 1) for status in AuditStatus}
        self.on_device = on_device
        self.on_pair = on_pair
        self.device_count = 0
        self.compliant_devices = 0
        self.practices = PracticeTally()
        self.late_devices = late_devices
        self.late_hostnames: dict[str, str] = {}
        self.breaches: list[BreachView] = []
        self.stale: list[StaleDeviceView] = []
        self.waived_pairs: dict[str, int] = defaultdict(int)

    def add_device(self, device: DeviceRecord, pairs: list[Pair]) -> None:
        counts = _counts()
        noncompliant: set[str] = set()
        last_seen: datetime | None = None
        for pair in pairs:
            state = pair.state
            counts[state.status] += 1
            self.by_policy[pair.policy.id][state.status] += 1
            if state.policy_version is not None and state.policy_version != pair.policy.version:
                self.other_versions[pair.policy.id] += 1
            if state.status not in _COMPLIANT:
                noncompliant.add(pair.policy.id)
            if state.waiver is not None and state.status is AuditStatus.WAIVED:
                self.waived_pairs[state.waiver.id] += 1
            if state.last_seen is not None and (last_seen is None or state.last_seen > last_seen):
                last_seen = state.last_seen
            self.on_pair(_pair_view(pair))
            self._sample(pair)
        for status, number in counts.items():
            self.overall[status] += number
            self.by_platform[device.platform.value][status] += number
        compliant = not noncompliant
        platform = self.platform_devices[device.platform.value]
        platform[0] += compliant
        platform[1] += 1
        # A control counts a device only when one of its policies applies to the device's platform.
        applicable = {p.policy.id for p in pairs if device.platform in p.policy.platforms}
        self.controls.add_device(applicable, noncompliant)
        at = self.scope.at
        stale = last_seen is None or at - last_seen > self.scope.validity
        if stale:
            silent = None if last_seen is None else _days(at - last_seen)
            self.stale.append(
                StaleDeviceView(
                    device_id=device.device_id,
                    hostname=device.hostname,
                    last_seen=last_seen,
                    days_silent=silent,
                )
            )
        view = trusted(
            DeviceView,
            {
                "device_id": device.device_id,
                "hostname": device.hostname,
                "platform": device.platform,
                "practice": device.practice,
                "os_name": device.os_name,
                "os_version": device.os_version,
                "hardware_serial": device.hardware_serial,
                "enrolled_at": device.enrolled_at,
                "last_enrolled_at": device.last_enrolled_at,
                "last_seen": last_seen,
                "status": worst([p.state.status for p in pairs]),
                "compliant": compliant,
                "stale": stale,
                "status_counts": counts,
            },
        )
        self.device_count += 1
        self.compliant_devices += compliant
        self.practices.add_device(view)
        if device.device_id in self.late_devices:
            self.late_hostnames[device.device_id] = device.hostname
        self.on_device(view)

    def _sample(self, pair: Pair) -> None:
        grace = pair.policy.grace
        breaches: dict[datetime, BreachView] = {}
        for begin, stop, state in sample_states(pair, self.instants, self.scope.validity):
            if state is None:
                continue
            self.trend_diff[state.status][begin] += 1
            self.trend_diff[state.status][stop] -= 1
            if state.status is AuditStatus.FAIL and state.failing_since is not None:
                last = self.instants[stop - 1]
                breaches[state.failing_since] = BreachView(
                    device_id=pair.device.device_id,
                    policy_id=pair.policy.id,
                    grace=grace,
                    failing_since=state.failing_since,
                    breached_at=state.failing_since + grace,
                    days_beyond_grace=_days(last - state.failing_since - grace),
                    ongoing=stop == len(self.instants),
                )
        for breach in breaches.values():
            self.practices.add_breach(pair.device.practice, breach)
        self.breaches.extend(breaches.values())

    def summary(self, *, active_waivers: int) -> Summary:
        return Summary(
            devices=self.device_count,
            pairs=_rate(self.overall),
            devices_compliant=Rate.of(self.compliant_devices, self.device_count),
            status_counts=self.overall,
            stale_devices=len(self.stale),
            breaches=len(self.breaches),
            ongoing_breaches=sum(b.ongoing for b in self.breaches),
            active_waivers=active_waivers,
        )

    def policy_view(self, policy: PolicyRecord) -> PolicyView:
        counts = self.by_policy.get(policy.id, _counts())
        return PolicyView(
            **policy_fields(policy),
            pairs=_rate(counts),
            status_counts=counts,
            pairs_on_other_versions=self.other_versions.get(policy.id, 0),
        )

    def platform_rollups(self) -> list[PlatformRollup]:
        return [
            PlatformRollup(
                platform=platform,
                devices=Rate.of(*self.platform_devices[platform]),
                pairs=_rate(counts),
                status_counts=counts,
            )
            for platform, counts in sorted(self.by_platform.items())
        ]

    def trend(self) -> list[TrendPoint]:
        points: list[TrendPoint] = []
        running = _counts()
        for index, (day, instant) in enumerate(self.samples):
            for status in AuditStatus:
                running[status] += self.trend_diff[status][index]
            counts = dict(running)
            points.append(TrendPoint(day=day.date(), at=instant, pairs=_rate(counts), status_counts=counts))
        return points


def _pair_view(pair: Pair) -> PairView:
    state = pair.state
    keep_evidence = state.observed in _EVIDENCE_KEPT_FOR
    days = state.days_out_of_compliance
    return trusted(
        PairView,
        {
            "device_id": pair.device.device_id,
            "policy_id": pair.policy.id,
            "status": state.status,
            "observed": None if state.observed is None else state.observed.value,
            "since": state.since,
            "last_seen": state.last_seen,
            "failing_since": state.failing_since,
            "days_out_of_compliance": None if days is None else round(days, 2),
            "policy_version": state.policy_version,
            "current_version": state.policy_version == pair.policy.version,
            "waiver_id": state.waiver.id
            if state.waiver is not None and state.status is AuditStatus.WAIVED
            else None,
            "evidence": [dict(row) for row in state.evidence] if keep_evidence else [],
            "error": state.error if keep_evidence else None,
        },
    )


def _waivers(
    history: FleetHistory, policies: Sequence[PolicyRecord], scope: Scope, waived: dict[str, int]
) -> list[WaiverView]:
    in_scope = {p.id for p in policies}
    views: list[WaiverView] = []
    for waiver in history.waivers:
        if waiver.policy_id not in in_scope or waiver.granted_at > scope.at:
            continue
        ended = min(waiver.expires_at, waiver.revoked_at or waiver.expires_at)
        if (
            waiver.revoked_at is not None
            and waiver.revoked_at <= scope.at
            and waiver.revoked_at < waiver.expires_at
        ):
            state = "revoked"
        elif waiver.expires_at <= scope.at:
            state = "expired"
        else:
            state = "active"
        views.append(
            WaiverView(
                id=waiver.id,
                policy_id=waiver.policy_id,
                device_id=waiver.device_id,
                practice=waiver.practice,
                justification=waiver.justification,
                owner=waiver.owner,
                granted_by=waiver.granted_by,
                granted_at=waiver.granted_at,
                expires_at=waiver.expires_at,
                revoked_at=waiver.revoked_at,
                state=state,
                ended_in_window=scope.trend_start < ended <= scope.at,
                pairs_waived=waived.get(waiver.id, 0),
                expiring_soon=state == "active" and waiver.expires_at - scope.at <= EXPIRING_SOON,
            )
        )
    return sorted(views, key=lambda w: (w.expires_at, w.id))


EXPIRING_SOON = timedelta(days=14)  # an auditor's notice: two weeks to renew or remediate


def _bundles(history: FleetHistory, at: datetime) -> list[BundleView]:
    published = sorted((b for b in history.bundles if b.published_at <= at), key=lambda b: b.version)
    latest = published[-1].version if published else None
    return [
        BundleView(
            version=b.version, digest=b.digest, published_at=b.published_at, in_force=b.version == latest
        )
        for b in published
    ]


def check_known_at(known_at: datetime | None, now: datetime, option: str) -> datetime | None:
    """A knowledge instant must carry an offset and not be in the future (nothing is known yet)."""
    if known_at is None:
        return None
    if known_at.tzinfo is None:
        raise ReportInputError(
            f"{option} {known_at.isoformat()} has no UTC offset; write e.g. 2026-12-01T09:00:00Z"
        )
    if known_at > now:
        raise ReportInputError(
            f"{option} {known_at.isoformat()} is in the future (now {now.isoformat()}): the collector "
            "cannot know yet what it will receive; give an instant at or before now"
        )
    return known_at
