"""A past that holds: a report issued at K is reproduced byte for byte later, as known at K,
after a late observation (a wrong laptop clock) and an offline laptop's backlog have changed what
the collector now knows about that instant; the current report differs and flags them."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from fleetward.cli import app
from tests.collector.support import Fleet, bearer, result

POLICY = "encryption-windows-bitlocker"


def _report(fleet: Fleet, **params: str) -> dict[str, Any]:
    response = fleet.client.get("/v1/reports/json", params=params, headers=bearer(fleet.admin))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_report_issued_at_k_is_reproduced_exactly_after_late_and_backlog_reports(
    fleet: Fleet, database_url: str, tmp_path: Path
) -> None:
    t0 = fleet.clock.now()
    surgery, offline = fleet.enroll("GP-SURGERY-01"), fleet.enroll("GP-OFFLINE-02")
    fleet.report(surgery, [result(POLICY, "fail", evidence=[{"protection": "off"}])], at=t0)
    fleet.report(offline, [result(POLICY, "pass", evidence=[{"protection": "on"}])], at=t0)
    fleet.clock.set(t0 + timedelta(days=20))
    fleet.report(surgery, [result(POLICY, "fail", evidence=[{"protection": "off"}])])
    known_at = t0 + timedelta(days=20, hours=1)
    fleet.clock.set(known_at)
    issued = _report(fleet)  # what an auditor was handed at K
    assert issued["scope"]["known_at"] == issued["generated_at"]

    # A day later: one report observed a second before the last one, saying pass (a wrong clock).
    fleet.clock.set(known_at + timedelta(days=1))
    late = fleet.report(surgery, [result(POLICY, "pass")], at=t0 + timedelta(days=20, seconds=-1))
    assert late.status_code in (200, 202), late.text
    # Two days later: the offline laptop's outbox arrives, in order, observed before K.
    fleet.clock.set(known_at + timedelta(days=2))
    for days, status in ((5, "pass"), (10, "fail"), (19, "fail")):
        sent = fleet.report(offline, [result(POLICY, status)], at=t0 + timedelta(days=days))
        assert sent.status_code in (200, 202), sent.text

    at_k = known_at.isoformat()
    reproduced = _report(fleet, as_known_at=at_k)
    assert reproduced["digest"] == issued["digest"]
    assert reproduced == issued  # signature included: the same key signs the same digest
    now = _report(fleet, at=at_k)
    assert now["digest"] != issued["digest"]
    assert now["summary"]["late_observations"] == 1
    assert issued["summary"]["late_observations"] == 0
    before, after = _statuses(issued), _statuses(now)
    assert before == {surgery.device_id: "fail", offline.device_id: "pass"}
    assert after[offline.device_id] == "fail"
    # The late pass shortened the surgery laptop's stretch out of compliance from 20 days to an hour.
    assert _days(issued, surgery.device_id) == 20.04
    assert _days(now, surgery.device_id) == 0.04

    # The CLI reads the database directly and gives the same digest (it does not sign).
    out = tmp_path / "k.json"
    cli = CliRunner().invoke(
        app, ["report", "--database-url", database_url, "-f", "json", "--as-known-at", at_k, "-o", str(out)]
    )
    assert cli.exit_code == 0, cli.stderr
    assert json.loads(out.read_bytes())["digest"] == issued["digest"]
    assert f"report digest {issued['digest']}" in cli.stderr


def test_a_knowledge_instant_in_the_future_or_before_the_report_instant_is_refused(
    fleet: Fleet, database_url: str
) -> None:
    now = fleet.clock.now()
    future = _error(fleet, as_known_at=(now + timedelta(hours=1)).isoformat())
    assert "is in the future" in future
    before = _error(fleet, as_known_at=now.isoformat(), at=(now + timedelta(seconds=1)).isoformat())
    assert "after its knowledge instant" in before
    cli = CliRunner().invoke(
        app, ["report", "--database-url", database_url, "-f", "json", "--as-known-at", "2099-01-01T00:00:00Z"]
    )
    assert cli.exit_code == 2
    assert "--as-known-at 2099-01-01T00:00:00+00:00 is in the future" in cli.stderr


def _statuses(report: dict[str, Any]) -> dict[str, str]:
    return {p["device_id"]: p["status"] for p in report["pairs"] if p["policy_id"] == POLICY}


def _days(report: dict[str, Any], device_id: str) -> float:
    [pair] = [p for p in report["pairs"] if p["policy_id"] == POLICY and p["device_id"] == device_id]
    return float(round(pair["days_out_of_compliance"], 2))


def _error(fleet: Fleet, **params: str) -> str:
    response = fleet.client.get("/v1/reports/json", params=params, headers=bearer(fleet.admin))
    assert response.status_code == 422, response.text
    message: str = response.json()["message"]
    return message
