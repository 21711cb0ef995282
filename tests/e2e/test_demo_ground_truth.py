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
from simulator.demo import DemoOutcome, run_demo


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
    for fmt, path in demo.reports.items():
        verification = verify_bytes(path.read_bytes())
        assert verification.ok, (fmt, verification.checks)
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
