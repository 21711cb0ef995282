"""The dashboard's SQL numbers (tallies, breaches, rollup-based trend) equal the pure report's."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from collector.domain.state import DEFAULT_VALIDITY
from collector.reports.build import build_report
from collector.reports.timeline import trend_samples
from collector.store import Database
from collector.store.breaches import breaches
from collector.store.history import load_history
from collector.store.ingest import ingest_report
from collector.store.models import RollupDay
from collector.store.policies import PolicyRegistry
from collector.store.rollups import MARGIN, refresh_rollups, stale_days, trend_counts
from collector.ui.dashboard import build_dashboard
from fleetward.policy.verdict import Result, Status
from fleetward.wire import Report, ReportKind
from tests.collector.store.test_collector_fleet_state_sql import _build_fleet


def _compare(db: Database, at, period=None) -> None:  # type: ignore[no-untyped-def]
    history = load_history(db.engine)
    now = at + timedelta(days=1)
    report = build_report(
        history, at=None if period else at, period=period, framework=None, generated_at=now, source="t"
    )
    with db.write() as session:
        board = build_dashboard(
            session, at=None if period else at, period=period, validity=DEFAULT_VALIDITY, now=now, source="t"
        )
        samples = [i for _, i in trend_samples(report.scope.trend_start, report.scope.at)]
        found = breaches(session, samples, validity=DEFAULT_VALIDITY)
    assert board.summary == report.summary, at
    assert [(p.id, p.pairs, p.status_counts) for p in board.policies] == [
        (p.id, p.pairs, p.status_counts) for p in report.policies
    ]
    assert board.platforms == report.platforms
    assert [
        (r.practice, r.devices, r.pairs, r.status_counts, r.breaches, r.ongoing_breaches, r.stale_devices)
        for r in board.practices
    ] == [
        (
            r.practice,
            r.devices,
            r.pairs,
            r.status_counts,
            r.breaches,
            r.ongoing_breaches,
            len(r.stale_devices),
        )
        for r in report.practices
    ]
    assert board.controls == report.controls
    assert board.trend == report.trend, at
    assert [
        (b.device_id, b.policy_id, b.failing_since, b.breached_at, b.days_beyond_grace, b.ongoing)
        for b in found
    ] == [
        (b.device_id, b.policy_id, b.failing_since, b.breached_at, b.days_beyond_grace, b.ongoing)
        for b in report.breaches
    ]


@pytest.mark.parametrize("seed", [1, 2])
def test_dashboard_numbers_equal_the_pure_report(db: Database, seed: int) -> None:
    instants = _build_fleet(db, seed)
    for at in instants[:: max(1, len(instants) // 6)]:
        _compare(db, at)
    _compare(db, instants[-1], period=(instants[0], instants[-1]))


def test_a_late_observation_recomputes_the_days_it_changes(db: Database) -> None:
    instants = _build_fleet(db, 3)
    at = instants[len(instants) // 2]
    now = at + timedelta(days=1)
    days = [d.date() for d, i in trend_samples(at - timedelta(days=30), at)][:-1]
    with db.write() as session:
        assert refresh_rollups(session, days, validity=DEFAULT_VALIDITY, now=now) == days
        assert stale_days(session, days) == []
        assert session.query(RollupDay).count() == len(days)
    _compare(db, at)
    # A report observed ten days before `at`, received now: the days from then on are recomputed.
    history = load_history(db.engine)
    device_id, policy_id = next(iter(history.runs))
    observed = at - timedelta(days=10)
    report = Report(
        report_id=uuid.uuid4(),
        kind=ReportKind.SNAPSHOT,
        observed_at=observed,
        agent_version="t",
        results=[Result(policy_id=policy_id, policy_version="late", status=Status.FAIL, evidence=[])],
    )
    with db.write() as session:
        ingest_report(
            session, device_id, report, received_at=now, validity=DEFAULT_VALIDITY, registry=PolicyRegistry()
        )
    with db.write() as session:
        stale = stale_days(session, days)
    assert stale
    assert min(stale) >= (observed - timedelta(days=1)).date()
    assert all(d in stale for d in days if d >= observed.date())
    _compare(db, at)
    # Computed again once the margin for in-flight reports has passed, the days stay valid.
    with db.write() as session:
        later = now + MARGIN + timedelta(seconds=1)
        assert refresh_rollups(session, days, validity=DEFAULT_VALIDITY, now=later)
        assert stale_days(session, days) == []
        counts = trend_counts(
            session, trend_samples(at - timedelta(days=30), at), validity=DEFAULT_VALIDITY, now=now
        )
    assert len(counts) == len(days) + 1
