"""The whole system on a small simulated fleet: agents -> HTTP -> collector -> reports, checked
against what the simulator itself knows."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from pathlib import Path

import pytest

from collector.reports.verify import verify_bytes
from fleetward.bundle.keys import PublicKey
from simulator.demo import REPORT_PUBLIC_KEY_FILE, DemoOutcome, run_demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoOutcome:
    return run_demo(tmp_path_factory.mktemp("demo"), devices=16, days=31, seed=11)


def _report(demo: DemoOutcome) -> dict:
    return json.loads(demo.reports["json"].read_bytes())


def test_every_pair_in_the_report_has_the_status_the_simulator_expects(demo: DemoOutcome) -> None:
    report = _report(demo)
    truth = json.loads(demo.truth_path.read_text())
    hostnames = {d["device_id"]: d["hostname"] for d in report["devices"]}
    reported = {(hostnames[p["device_id"]], p["policy_id"]): p["status"] for p in report["pairs"]}
    expected = {(p["hostname"], p["policy_id"]): p["status"] for p in truth["pairs"]}
    assert reported == expected
    assert report["summary"]["status_counts"] == {
        status: truth["counts"].get(status, 0) for status in report["summary"]["status_counts"]
    }


def test_the_month_shows_the_events_it_simulated(demo: DemoOutcome) -> None:
    report = _report(demo)
    counts = Counter(p["status"] for p in report["pairs"])
    assert counts["stale"] > 0, "a device that stopped reporting must be stale by the end"
    assert report["breaches"], "late patch installs must show as remediation-window breaches"
    assert report["waivers"], "the simulator grants waivers"
    assert len(report["devices"]) == len({d.hostname for d in demo.plan.devices})


def test_every_format_verifies_and_csv_has_one_row_per_pair(demo: DemoOutcome) -> None:
    key = PublicKey.from_argument(str(demo.reports["json"].parent / REPORT_PUBLIC_KEY_FILE))
    for fmt, path in demo.reports.items():
        verification = verify_bytes(path.read_bytes(), trusted=[key])
        assert verification.ok, (fmt, verification.checks)
        assert verification.authenticity.startswith("authentic"), fmt
    report = _report(demo)
    text = demo.reports["csv"].read_text("utf-8")
    rows = [r for r in csv.reader(io.StringIO(text)) if r and not r[0].startswith("#")]
    assert len(rows) - 1 == len(report["pairs"])


def test_the_same_seed_gives_the_same_fleet(demo: DemoOutcome, tmp_path: Path) -> None:
    from fleetward.policy.catalogue import load_catalogue
    from simulator.plan import make_plan
    from simulator.setup import load_templates, patch_releases

    catalogue = load_catalogue()
    again = make_plan(
        templates=load_templates(),
        releases=patch_releases(catalogue),
        devices=16,
        days=31,
        seed=11,
        start=demo.plan.start,
    )
    assert again == demo.plan


def test_the_same_seed_gives_the_same_report_digest(demo: DemoOutcome, tmp_path: Path) -> None:
    again = run_demo(tmp_path / "again", devices=16, days=31, seed=11)
    assert again.summary["digest"] == demo.summary["digest"]
    assert again.reports["json"].read_bytes() == demo.reports["json"].read_bytes()


def test_a_silent_laptop_is_stale_only_on_its_own_platforms_policies(demo: DemoOutcome) -> None:
    report = _report(demo)
    platforms = {p["id"]: set(p["platforms"]) for p in report["policies"]}
    device_platform = {d["device_id"]: d["platform"] for d in report["devices"]}
    stale = [p for p in report["pairs"] if p["status"] == "stale"]
    assert stale, "the demo has a laptop that falls silent"
    for pair in stale:
        assert device_platform[pair["device_id"]] in platforms[pair["policy_id"]], pair


def test_controls_count_only_devices_one_of_their_policies_applies_to(demo: DemoOutcome) -> None:
    report = _report(demo)
    platforms = {p["id"]: set(p["platforms"]) for p in report["policies"]}
    for control in report["controls"]:
        applicable = {
            d["device_id"]
            for d in report["devices"]
            if any(d["platform"] in platforms[pid] for pid in control["policy_ids"])
        }
        assert control["devices"]["total"] == len(applicable), control["control"]


def test_passes_carry_their_evidence_and_every_status_shows_at_the_instant(demo: DemoOutcome) -> None:
    report = _report(demo)
    passes = [p for p in report["pairs"] if p["status"] == "pass"]
    assert passes
    assert sum(1 for p in passes if p["evidence"]) > len(passes) // 2
    statuses = {p["status"] for p in report["pairs"]}
    assert {"pass", "fail", "error", "stale", "waived", "in_grace", "not_applicable"} <= statuses, statuses
    # The laptop whose firewall went off on the last day is inside the policy's day of grace.
    assert any(p["status"] == "in_grace" and p["policy_id"] == "firewall-windows-on" for p in report["pairs"])
    assert any(w["state"] == "active" for w in report["waivers"])
    expiring = [w for w in report["waivers"] if w["expiring_soon"]]
    assert [w["policy_id"] for w in expiring] == ["antimalware-windows-active"], (
        "expires 5 days after the end"
    )
    assert report["summary"]["waivers_expiring_soon"] == 1
    assert any(w["state"] != "active" for w in report["waivers"]), "one waiver lapses mid-month"


def test_a_late_observation_on_the_demo_database_is_flagged_and_counted(demo: DemoOutcome) -> None:
    import uuid
    from datetime import timedelta

    from collector.reports.build import build_report
    from collector.store.engine import Database
    from collector.store.history import load_history
    from collector.store.ingest import ingest_report
    from collector.store.policies import PolicyRegistry
    from fleetward.policy.verdict import Result, Status
    from fleetward.wire import Report, ReportKind

    report = _report(demo)
    assert report["summary"]["late_observations"] == 0  # the outbox delivers in order
    passing = next(
        p for p in report["pairs"] if p["status"] == "pass" and p["policy_id"] == "firewall-windows-on"
    )
    db = Database.from_url(demo.database_url)
    try:
        late = Report(
            report_id=uuid.uuid4(),
            kind=ReportKind.SNAPSHOT,
            observed_at=demo.plan.end - timedelta(days=3),
            agent_version="test",
            results=[
                Result(
                    policy_id=passing["policy_id"],
                    policy_version=passing["policy_version"],
                    status=Status.FAIL,
                )
            ],
        )
        with db.write() as session:
            ingest_report(
                session,
                passing["device_id"],
                late,
                received_at=demo.plan.end,
                validity=timedelta(days=30),
                registry=PolicyRegistry(),
            )
        with db.read() as session:
            history = load_history(session)
    finally:
        db.dispose()
    again = build_report(
        history,
        at=None,
        period=(demo.plan.start, demo.plan.end),
        framework=None,
        generated_at=demo.plan.end,
        source="test",
    )
    assert again.summary.late_observations == 1
    [flagged] = again.late_observations
    assert flagged.device_id == passing["device_id"]
