"""Auditor status precedence at an instant: stale, pass, waived, in grace, fail/error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from collector.domain.fleet import DeviceRecord, FleetHistory, PolicyRecord, fleet_state_at
from collector.domain.runs import Run
from collector.domain.state import AuditStatus, Waiver, active_waiver, failing_starts, pair_state_at, worst
from fleetward.policy.model import Platform
from fleetward.policy.verdict import Status

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def run(status: Status, start_day: float, end_day: float, version: str = "v1") -> Run:
    return Run(status, version, T0 + start_day * DAY, T0 + end_day * DAY)


def waiver(**overrides: object) -> Waiver:
    fields: dict[str, object] = {
        "id": "w1",
        "policy_id": "p",
        "justification": "awaiting replacement laptop",
        "owner": "practice manager",
        "granted_at": T0,
        "expires_at": T0 + 10 * DAY,
        "device_id": "d1",
    }
    fields.update(overrides)
    return Waiver(**fields)  # type: ignore[arg-type]


def test_no_report_within_validity_is_stale_even_after_a_pass() -> None:
    runs = [run(Status.PASS, 0, 1)]
    assert pair_state_at(runs, T0 + 30 * DAY, grace=DAY).status is AuditStatus.PASS
    assert pair_state_at(runs, T0 + 31 * DAY + timedelta(seconds=1), grace=DAY).status is AuditStatus.STALE


def test_before_the_first_report_the_pair_is_stale() -> None:
    assert pair_state_at([run(Status.PASS, 1, 2)], T0, grace=DAY).status is AuditStatus.STALE


def test_failing_within_grace_is_in_grace_then_fail() -> None:
    runs = [run(Status.PASS, 0, 1), run(Status.FAIL, 2, 9)]
    assert pair_state_at(runs, T0 + 2.5 * DAY, grace=DAY).status is AuditStatus.IN_GRACE
    late = pair_state_at(runs, T0 + 3 * DAY, grace=DAY)
    assert late.status is AuditStatus.FAIL
    assert late.failing_since == T0 + 2 * DAY
    assert late.days_out_of_compliance == 1.0


def test_error_has_no_grace() -> None:
    assert pair_state_at([run(Status.ERROR, 0, 1)], T0, grace=DAY).status is AuditStatus.ERROR


def test_an_active_waiver_beats_grace_and_fail_but_not_stale() -> None:
    runs = [run(Status.FAIL, 0, 20)]
    w = waiver()
    assert pair_state_at(runs, T0 + 5 * DAY, grace=DAY, waiver=w).status is AuditStatus.WAIVED
    assert pair_state_at(runs, T0 + 0.5 * DAY, grace=DAY, waiver=w).status is AuditStatus.WAIVED
    silent = [run(Status.FAIL, 0, 0)]
    assert pair_state_at(
        silent, T0 + 31 * DAY, grace=DAY, waiver=waiver(expires_at=T0 + 40 * DAY)
    ).status is (AuditStatus.STALE)


def test_waivers_are_active_from_grant_until_expiry_or_revocation() -> None:
    w = waiver(revoked_at=T0 + 5 * DAY)
    assert not w.active_at(T0 - timedelta(seconds=1))
    assert w.active_at(T0)
    assert not w.active_at(T0 + 5 * DAY)
    assert not waiver().active_at(T0 + 10 * DAY)


def test_a_practice_waiver_covers_only_that_practices_devices() -> None:
    w = waiver(device_id=None, practice="Y01234")
    assert active_waiver([w], "any", "Y01234", "p", T0 + DAY) == w
    assert active_waiver([w], "any", "Y99999", "p", T0 + DAY) is None
    assert active_waiver([w], "any", None, "p", T0 + DAY) is None


def test_failing_since_spans_fail_and_error_runs_of_any_version() -> None:
    runs = [
        run(Status.PASS, 0, 1),
        run(Status.FAIL, 2, 3),
        run(Status.ERROR, 4, 5, "v2"),
        run(Status.PASS, 6, 7),
    ]
    assert failing_starts(runs) == [None, T0 + 2 * DAY, T0 + 2 * DAY, None]
    assert pair_state_at(runs, T0 + 4.5 * DAY, grace=timedelta(0)).failing_since == T0 + 2 * DAY


def test_worst_status_orders_fail_first() -> None:
    assert worst([AuditStatus.PASS, AuditStatus.STALE, AuditStatus.FAIL]) is AuditStatus.FAIL
    assert worst([]) is None


def test_fleet_state_ignores_what_was_reported_after_the_instant() -> None:
    device = DeviceRecord("d1", "host", Platform.WINDOWS, T0)
    mac_only = PolicyRecord("p", "FileVault", "high", (Platform.DARWIN,), timedelta(0), "v1")
    history = FleetHistory((device,), (mac_only,), {("d1", "p"): (run(Status.NOT_APPLICABLE, 5, 6),)})
    assert fleet_state_at(history, T0 + DAY) == []
    assert [r.state.status for r in fleet_state_at(history, T0 + 5 * DAY)] == [AuditStatus.NOT_APPLICABLE]
