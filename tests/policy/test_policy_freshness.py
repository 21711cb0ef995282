"""Baseline freshness is part of the verdict: a floor that should be in force and is missing is an
`error` naming the baseline, the missing Patch Tuesday and the refresh command, never a pass."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from fleetward.policy.baseline import REMEDIATION_WINDOW, catalogue_provenance
from fleetward.policy.catalogue import load_catalogue
from fleetward.policy.freshness import FreshnessState, assess, patch_tuesdays_before, second_tuesday
from fleetward.policy.run import evaluate_catalogue
from fleetward.policy.verdict import Status
from fleetward.recorded import RecordedEngine, load_devices
from fleetward.recorded.model import Platform

CATALOGUE = load_catalogue()
WINDOWS = CATALOGUE.baselines["windows"]
MACOS = CATALOGUE.baselines["macos"]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_second_tuesday_is_patch_tuesday() -> None:
    # Microsoft's 2026 B-week dates, as the feed lists them (tests/data/feeds).
    assert [second_tuesday(2026, m) for m in (1, 2, 3, 4, 5, 6)] == [
        date(2026, 1, 13), date(2026, 2, 10), date(2026, 3, 10),
        date(2026, 4, 14), date(2026, 5, 12), date(2026, 6, 9),
    ]  # fmt: skip
    assert second_tuesday(2026, 11) == date(2026, 11, 10)
    assert patch_tuesdays_before(date(2026, 1, 5)) == (date(2025, 12, 9), date(2026, 1, 13))
    assert patch_tuesdays_before(date(2026, 12, 8)) == (date(2026, 12, 8), date(2027, 1, 12))


def test_windows_is_fresh_while_its_newest_floor_is_the_one_in_force() -> None:
    assert assess(WINDOWS, at("2026-07-01T00:00:00+00:00"), REMEDIATION_WINDOW).state is FreshnessState.FRESH


def test_windows_is_due_between_patch_tuesday_and_the_day_its_floor_takes_effect() -> None:
    verdict = assess(WINDOWS, at("2026-07-20T00:00:00+00:00"), REMEDIATION_WINDOW)
    assert verdict.state is FreshnessState.DUE
    assert verdict.due == date(2026, 7, 14)
    assert "takes effect on 2026-07-28" in verdict.message


def test_windows_is_stale_from_the_day_the_missing_floor_should_take_effect() -> None:
    before = assess(WINDOWS, at("2026-07-27T23:59:59+00:00"), REMEDIATION_WINDOW)
    after = assess(WINDOWS, at("2026-07-28T00:00:00+00:00"), REMEDIATION_WINDOW)
    assert before.state is FreshnessState.DUE
    assert after.state is FreshnessState.STALE
    assert after.due == date(2026, 7, 14)
    # 23H2 Enterprise is serviced until 10 Nov 2026, so it lacks July too; 22621 is out of service.
    assert after.lacking == ("19045", "22631", "26100", "26200", "28000")


def test_today_the_shipped_windows_and_macos_baselines_are_stale_and_ubuntu_is_not() -> None:
    today = at("2026-12-01T09:00:00+00:00")
    states = {p.baseline: p.freshness.state for p in catalogue_provenance(CATALOGUE, today)}
    assert states == {
        "macos": FreshnessState.STALE,
        "ubuntu": FreshnessState.FRESH,
        "windows": FreshnessState.STALE,
    }
    windows = next(p for p in catalogue_provenance(CATALOGUE, today) if p.baseline == "windows")
    assert windows.newest_floor == date(2026, 6, 9)
    assert "2026-11-10 Patch Tuesday" in windows.freshness.message
    assert "DFG-WIN-2026-06-23" in dict(windows.sources)


def test_macos_goes_stale_after_its_declared_maximum_age() -> None:
    assert MACOS.freshness is not None
    assert MACOS.freshness.max_age_days == 45
    stale_from = MACOS.refreshed + timedelta(days=45)
    last_fresh = datetime(stale_from.year, stale_from.month, stale_from.day, tzinfo=UTC) - timedelta(days=15)
    assert assess(MACOS, last_fresh, REMEDIATION_WINDOW).state is FreshnessState.FRESH
    assert assess(MACOS, last_fresh + timedelta(days=1), REMEDIATION_WINDOW).state is FreshnessState.DUE
    start = datetime(stale_from.year, stale_from.month, stale_from.day, tzinfo=UTC)
    assert assess(MACOS, start, REMEDIATION_WINDOW).state is FreshnessState.STALE


def test_a_stale_baseline_makes_every_policy_that_reads_it_an_error_and_nothing_else() -> None:
    device = next(d for d in load_devices() if d.name == "win11-25h2-ent-compliant")
    engine = RecordedEngine(device)
    try:
        results = {
            r.policy_id: r
            for r in evaluate_catalogue(
                CATALOGUE, Platform.WINDOWS, engine.query, at("2026-12-01T09:00:00+00:00")
            )
        }
    finally:
        engine.close()
    readers = {p.id for p in CATALOGUE.for_platform(Platform.WINDOWS) if p.baseline == "windows"}
    assert readers == {"patch-windows-build-current", "patch-windows-release-supported"}
    for policy_id, result in results.items():
        if policy_id in readers:
            assert result.status is Status.ERROR
            assert result.error is not None
            assert "baseline 'windows' is stale" in result.error
            assert "fleetward policies baselines refresh" in result.error
        elif result.status is not Status.NOT_APPLICABLE:
            assert result.status is Status.PASS, policy_id
