"""build_report: every status and edge, every number checked against hand-worked values."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime

import pytest

from collector.domain.fleet import FleetHistory, fleet_state_at
from collector.domain.state import AuditStatus, pair_state_at
from collector.reports.build import build_report
from collector.reports.canonical import report_json
from collector.reports.errors import ReportInputError
from collector.reports.model import ComplianceReport
from collector.reports.timeline import WaiverIndex, device_pairs, sample_states, trend_samples
from tests.reports.factory import AT, DAY, START, all_stale_fleet, empty_fleet, mixed_fleet

GENERATED = AT + DAY


def build(history=None, **kwargs) -> ComplianceReport:  # type: ignore[no-untyped-def]
    options = {"at": AT, "period": None, "framework": None, "generated_at": GENERATED, "source": "test"}
    options.update(kwargs)
    return build_report(history or mixed_fleet(), **options)  # type: ignore[arg-type]


def statuses(report: ComplianceReport) -> dict[tuple[str, str], str]:
    return {(p.device_id, p.policy_id): p.status.value for p in report.pairs}


def test_every_status_is_reported_for_the_pair_that_has_it() -> None:
    got = statuses(build())
    assert got[("dev-pass", "encryption-disk")] == "pass"
    assert got[("dev-fail", "encryption-disk")] == "fail"
    assert got[("dev-fail", "firewall-on")] == "error"
    assert got[("dev-grace", "patch-level")] == "in_grace"
    assert got[("dev-waived", "encryption-disk")] == "waived"
    assert got[("dev-na", "firewall-on")] == "not_applicable"
    assert got[("dev-stale", "patch-level")] == "stale"
    assert got[("dev-never", "encryption-disk")] == "stale"
    assert ("dev-waived", "firewall-on") not in got  # linux, never reported: not part of its picture
    assert not any(device == "dev-later" for device, _ in got)  # enrolled after the instant


def test_rates_count_pass_waived_and_in_grace_as_compliant_among_applicable_pairs() -> None:
    summary = build().summary
    # 26 pairs, one of them not_applicable: it counts in neither the compliant pairs nor the total
    assert summary.status_counts[AuditStatus.NOT_APPLICABLE] == 1
    assert (summary.pairs.compliant, summary.pairs.total) == (16, 25)
    assert summary.pairs.rate == round(16 / 25, 6)
    # compliant devices: pass, grace, waived, na, reenrolled
    assert (summary.devices_compliant.compliant, summary.devices_compliant.total) == (5, 9)
    assert summary.status_counts[AuditStatus.STALE] == 6
    assert summary.stale_devices == 2
    assert summary.active_waivers == 1


def test_failing_since_and_days_out_of_compliance_for_failing_pairs() -> None:
    pair = next(p for p in build().pairs if (p.device_id, p.policy_id) == ("dev-fail", "encryption-disk"))
    assert pair.failing_since == START + 5 * DAY
    assert pair.days_out_of_compliance == 25.5
    assert pair.evidence == [
        {"drive_letter": "C:", "protection_status": "0", "conversion_status": "0", "compliant": "0"}
    ]
    passing = next(p for p in build().pairs if (p.device_id, p.policy_id) == ("dev-pass", "encryption-disk"))
    assert passing.failing_since is None
    assert passing.evidence == []


def test_breaches_are_failures_beyond_grace_and_exclude_grace_and_waivers() -> None:
    report = build()
    breaches = {(b.device_id, b.policy_id): b for b in report.breaches}
    assert set(breaches) == {("dev-fail", "encryption-disk"), ("dev-expired", "patch-level")}
    patch = breaches[("dev-expired", "patch-level")]
    assert patch.breached_at == patch.failing_since + 14 * DAY
    assert patch.ongoing
    assert patch.days_beyond_grace == round((AT - patch.failing_since - 14 * DAY) / DAY, 2)


def test_waiver_expiring_mid_period_waives_until_expiry_then_fails() -> None:
    report = build(at=None, period=(START, AT))
    waiver = next(w for w in report.waivers if w.id == "w-practice")
    assert waiver.state == "expired"
    assert waiver.ended_in_window
    assert waiver.pairs_waived == 0
    by_day = {point.day.isoformat(): point for point in report.trend}
    # dev-expired/patch was waived until 2026-03-21T12:00, failing afterwards
    assert by_day["2026-03-20"].status_counts[AuditStatus.WAIVED] == 2
    assert by_day["2026-03-21"].status_counts[AuditStatus.WAIVED] == 1
    assert statuses(report)[("dev-expired", "patch-level")] == "fail"
    revoked = next(w for w in report.waivers if w.id == "w-revoked")
    assert revoked.state == "revoked"


def test_re_enrolled_device_appears_once_with_its_history_and_outdated_version() -> None:
    report = build()
    devices = [d for d in report.devices if d.device_id == "dev-reenrolled"]
    assert len(devices) == 1
    assert devices[0].last_enrolled_at == START + 12 * DAY
    assert devices[0].status is AuditStatus.PASS
    firewall = next(p for p in report.policies if p.id == "firewall-on")
    assert firewall.pairs_on_other_versions == 1


def test_no_devices_gives_empty_tables_and_null_rates() -> None:
    report = build(empty_fleet())
    assert report.summary.devices == 0
    assert report.summary.pairs.rate is None
    assert report.pairs == []
    assert report.devices == []
    assert all(point.pairs.total == 0 for point in report.trend)
    assert len(report.trend) == 31


def test_all_stale_fleet_is_wholly_non_compliant() -> None:
    report = build(all_stale_fleet())
    assert {p.status for p in report.pairs} == {AuditStatus.STALE}
    assert report.summary.pairs.rate == 0.0
    assert report.summary.stale_devices == 3
    assert [d.days_silent for d in report.stale_devices] == [
        75.5,
        75.5,
        75.5,
    ]  # last seen 45 days before START


def test_control_roll_up_needs_every_evidencing_policy_compliant() -> None:
    report = build()
    controls = {(c.framework, c.control): c for c in report.controls}
    encryption = controls[("dspt", "9.5.2")]
    # 9 devices with an encryption pair; fail (dev-fail), stale x2 not met; waived counts as met
    assert (encryption.devices.compliant, encryption.devices.total) == (6, 9)
    assert controls[("dspt", "1.3.1")].devices.total == 0  # listed, evidenced by no policy
    assert [c.control for c in report.controls if c.framework == "dspt"] == ["1.3.1", "8.3.1", "9.5.2"]


def test_framework_filter_keeps_only_its_policies_and_controls() -> None:
    report = build(framework="cyber-essentials")
    assert [p.id for p in report.policies] == ["firewall-on", "patch-level"]
    assert {c.framework for c in report.controls} == {"cyber-essentials"}
    assert {p.policy_id for p in report.pairs} == {"firewall-on", "patch-level"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"framework": "iso27001"}, "unknown framework 'iso27001'; known frameworks: cis-controls-v8"),
        ({"at": AT, "period": (START, AT)}, "not both"),
        ({"at": None}, "either an instant"),
        ({"at": datetime(2026, 3, 1)}, "has no time zone"),
        ({"at": None, "period": (AT, START)}, "must start before it ends"),
    ],
)
def test_bad_requests_are_refused_with_what_to_change(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ReportInputError, match=message.replace("(", r"\(")):
        build(**kwargs)


def test_same_history_in_any_order_gives_identical_bytes() -> None:
    history = mixed_fleet()
    shuffled = replace(
        history,
        devices=tuple(reversed(history.devices)),
        policies=tuple(reversed(history.policies)),
        waivers=tuple(reversed(history.waivers)),
        runs=dict(reversed(list(history.runs.items()))),
    )
    assert report_json(build(history)) == report_json(build(shuffled))


def test_pairs_match_the_domains_fleet_state_at() -> None:
    history = mixed_fleet()
    for instant in (START, START + 10 * DAY, AT):
        expected = {(r.device.device_id, r.policy.id): r.state for r in fleet_state_at(history, instant)}
        index = WaiverIndex(history.waivers)
        got = {}
        for device in history.devices:
            for pair in device_pairs(
                history, device, sorted(history.policies, key=lambda p: p.id), index, instant
            ):
                got[(device.device_id, pair.policy.id)] = pair.state
        assert got == expected


def test_trend_segments_equal_the_state_at_every_sample() -> None:
    history = mixed_fleet()
    instants = [i for _, i in trend_samples(START - 20 * DAY, AT)]
    index = WaiverIndex(history.waivers)
    policies = sorted(history.policies, key=lambda p: p.id)
    checked = 0
    for device in history.devices:
        for pair in device_pairs(history, device, policies, index, AT):
            for begin, stop, state in sample_states(pair, instants, history.validity):
                for instant in instants[begin:stop]:
                    if device.enrolled_at > instant:
                        assert state is None
                        continue
                    waiver = next((w for w in pair.waivers if w.active_at(instant)), None)
                    expect = pair_state_at(
                        pair.runs, instant, grace=pair.policy.grace, validity=history.validity, waiver=waiver
                    )
                    assert state is not None
                    assert state.status == expect.status, (device.device_id, instant)
                    checked += 1
    assert checked > 500


def test_progress_reports_every_device() -> None:
    calls: list[tuple[int, int]] = []
    build(progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (10, 10)


def test_report_round_trips_through_its_own_schema() -> None:
    report = build()
    again = ComplianceReport.model_validate(json.loads(report_json(report)))
    assert report_json(again) == report_json(report)
    assert json.loads(report_json(report))["schema"] == "fleetward.compliance-report/v1"


def _scoped_fleet() -> FleetHistory:
    """A Windows laptop that reported the macOS-only firewall policy as not_applicable, then fell
    silent; and a Mac that passes it, with the rows that show why."""
    from fleetward.policy.model import Platform
    from fleetward.policy.verdict import Status
    from tests.reports.factory import FIREWALL, FleetBuilder

    mac_firewall = replace(FIREWALL, platforms=(Platform.DARWIN,))
    f = FleetBuilder(policies=(mac_firewall,))
    win = f.device("win-silent")
    f.run(win, mac_firewall, Status.NOT_APPLICABLE, START - 50 * DAY, last_seen=START - 45 * DAY)
    mac = f.device("mac-ok", Platform.DARWIN)
    f.run(mac, mac_firewall, Status.PASS, START, evidence=({"global_state": "1", "compliant": "1"},))
    return f.history()


def test_a_silent_device_is_not_stale_on_a_policy_for_another_platform() -> None:
    report = build(_scoped_fleet())
    assert statuses(report)[("win-silent", "firewall-on")] == "not_applicable"
    [policy] = report.policies
    assert (policy.pairs.compliant, policy.pairs.total) == (1, 1)  # 100%, not 50%


def test_a_control_counts_only_devices_to_which_one_of_its_policies_applies() -> None:
    controls = {(c.framework, c.control): c for c in build(_scoped_fleet()).controls}
    firewalls = controls[("cyber-essentials", "A4.1")]
    assert (firewalls.devices.compliant, firewalls.devices.total) == (1, 1)  # the Windows laptop is out


def test_passing_pairs_keep_their_evidence_in_every_format() -> None:
    from collector.reports.render import renderer_for

    report = build(_scoped_fleet())
    [passing] = [p for p in report.pairs if p.device_id == "mac-ok"]
    assert passing.evidence == [{"global_state": "1", "compliant": "1"}]
    for fmt in ("json", "csv", "html"):
        body = renderer_for(fmt).render(report)
        assert b"global_state" in body, fmt
    html = renderer_for("html").render(report).decode()
    assert 'id="pass-evidence"' in html


def test_every_format_shows_each_baseline_and_warns_when_it_is_stale_at_the_instant() -> None:
    from collector.reports.render import renderer_for
    from fleetward.policy.catalogue import load_catalogue

    shipped = tuple(load_catalogue().baselines.values())
    history = replace(mixed_fleet(), baselines=shipped)
    assert build(history).baselines == []  # the factory's policies read no shipped baseline
    renamed = replace(
        history,
        policies=tuple(replace(p, baseline="windows") if p.baseline else p for p in history.policies),
    )
    today = datetime.fromisoformat("2026-12-01T09:00:00+00:00")
    report = build(renamed, at=today, generated_at=today)
    [windows] = report.baselines
    assert (windows.name, windows.state, windows.policies) == ("windows", "stale", ["patch-level"])
    assert windows.newest_floor is not None
    assert windows.newest_floor.isoformat() == "2026-06-09"
    csv_text = renderer_for("csv").render(report).decode()
    assert "# baseline windows: stale; refreshed 2026-06-23, newest floor 2026-06-09" in csv_text
    html = renderer_for("html").render(report).decode()
    assert "Baseline windows is stale:" in html
    assert "2026-11-10 Patch Tuesday" in html
    assert build(renamed, at=AT).baselines[0].state == "fresh"  # 31 Mar 2026


def test_each_practice_has_its_rates_breaches_and_stale_devices_and_they_add_up() -> None:
    report = build()
    practices = {r.practice: r for r in report.practices}
    assert sum(r.devices.total for r in report.practices) == report.summary.devices
    assert sum(r.pairs.total for r in report.practices) == report.summary.pairs.total
    assert sum(r.breaches for r in report.practices) == report.summary.breaches
    stale = sorted(h for r in report.practices for h in r.stale_devices)
    assert stale == sorted(s.hostname for s in report.stale_devices)
    for practice, rollup in practices.items():
        mine = [d for d in report.devices if d.practice == practice]
        assert rollup.devices.total == len(mine)
        assert rollup.devices.compliant == sum(d.compliant for d in mine)
    html = (
        __import__("collector.reports.render", fromlist=["renderer_for"]).renderer_for("html").render(report)
    )
    assert b'<section id="practices">' in html
