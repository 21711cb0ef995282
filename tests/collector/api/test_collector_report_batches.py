"""`POST /v1/reports/batch`: a device's backlog in one request, each report answered as if alone."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from httpx import Response
from sqlalchemy import func, select

from collector.store.models import IngestedReport
from fleetward.wire import MAX_REPORTS_PER_BATCH
from tests.collector.support import Device, Fleet, bearer, result

POLICY = "encryption-windows-bitlocker"


def _report(at: datetime, status: str, *, report_id: str | None = None) -> dict[str, Any]:
    results = [result(POLICY, status)]
    return {
        "report_id": report_id or str(uuid.uuid4()),
        "kind": "snapshot",
        "observed_at": at.isoformat(),
        "agent_version": "0.1.0",
        "policy_versions": {POLICY: "v1"},
        "results": results,
    }


def _batch(fleet: Fleet, device: Device, reports: list[dict[str, Any]]) -> Response:
    return fleet.client.post("/v1/reports/batch", headers=bearer(device.key), json={"reports": reports})


def _runs(fleet: Fleet, device_id: str) -> list[tuple[str, str, str, str]]:
    history = fleet.client.get(f"/v1/devices/{device_id}/history", headers=bearer(fleet.admin)).json()
    return [(r["policy_id"], r["status"], r["since"], r["last_seen"]) for r in history["runs"]]


def _receipts(fleet: Fleet) -> int:
    with fleet.db.read() as session:
        return int(session.scalar(select(func.count()).select_from(IngestedReport)) or 0)


def test_a_backlog_in_one_batch_stores_what_the_reports_one_by_one_store(fleet: Fleet) -> None:
    batched, single = fleet.enroll("BATCHED"), fleet.enroll("SINGLE")
    t0 = fleet.clock.now() - timedelta(days=3)
    # oldest first, with one report observed before the one sent ahead of it (out of order)
    plan = [(0, "pass"), (5, "pass"), (3, "fail"), (10, "fail"), (20, "pass")]
    reports = [_report(t0 + timedelta(hours=h), status) for h, status in plan]
    answer = _batch(fleet, batched, reports)
    for report in reports:
        one = dict(report, report_id=str(uuid.uuid4()))
        assert (
            fleet.report(single, one["results"], at=datetime.fromisoformat(one["observed_at"])).status_code
            == 200
        )
    assert answer.status_code == 200, answer.text
    items = answer.json()["results"]
    assert [i["report_id"] for i in items] == [r["report_id"] for r in reports]
    assert [i["status"] for i in items] == [200] * len(reports)
    assert all(i["ack"]["duplicate"] is False and i["error"] is None for i in items)
    assert _runs(fleet, batched.device_id) == _runs(fleet, single.device_id)
    assert [s for _, s, _, _ in _runs(fleet, batched.device_id)] == ["pass", "fail", "pass", "fail", "pass"]


def test_the_same_batch_again_is_all_duplicates_and_changes_nothing(fleet: Fleet) -> None:
    device = fleet.enroll()
    t0 = fleet.clock.now() - timedelta(hours=5)
    twice = str(uuid.uuid4())
    reports = [_report(t0, "pass", report_id=twice), _report(t0 + timedelta(hours=1), "fail")]
    reports.append(dict(reports[0]))  # the same report twice in one batch
    first = _batch(fleet, device, reports).json()["results"]
    assert [i["ack"]["duplicate"] for i in first] == [False, False, True]
    before = _runs(fleet, device.device_id)
    again = _batch(fleet, device, reports).json()["results"]
    assert [(i["status"], i["ack"]["duplicate"]) for i in again] == [(200, True)] * 3
    assert _runs(fleet, device.device_id) == before
    assert _receipts(fleet) == 2


def test_a_bad_report_inside_a_batch_is_refused_alone_and_the_rest_are_stored(fleet: Fleet) -> None:
    device = fleet.enroll()
    t0 = fleet.clock.now() - timedelta(hours=5)
    future = _report(fleet.clock.now() + timedelta(days=2), "pass")
    repeated = _report(t0 + timedelta(hours=1), "fail")
    repeated["results"] = [result(POLICY, "fail"), result(POLICY, "pass")]
    good = [_report(t0, "pass"), _report(t0 + timedelta(hours=2), "fail")]
    answer = _batch(fleet, device, [good[0], future, repeated, good[1]])
    assert answer.status_code == 200, answer.text
    items = answer.json()["results"]
    assert [i["status"] for i in items] == [200, 422, 422, 200]
    assert items[1]["error"]["code"] == "invalid_request"
    assert "future" in items[1]["error"]["message"]
    assert "more than once" in items[2]["error"]["message"]
    assert items[2]["ack"] is None
    assert [s for _, s, _, _ in _runs(fleet, device.device_id)] == ["pass", "fail"]
    assert _receipts(fleet) == 2


def test_another_devices_report_id_in_a_batch_is_forbidden_and_nothing_of_it_written(fleet: Fleet) -> None:
    alice, mallory = fleet.enroll("ALICE"), fleet.enroll("MALLORY")
    t0 = fleet.clock.now() - timedelta(hours=5)
    taken = str(uuid.uuid4())
    assert fleet.report(alice, [result(POLICY, "pass")], report_id=taken, at=t0).status_code == 200
    alice_runs = _runs(fleet, alice.device_id)
    items = _batch(
        fleet, mallory, [_report(t0, "fail", report_id=taken), _report(t0 + timedelta(hours=1), "pass")]
    ).json()["results"]
    assert [i["status"] for i in items] == [403, 200]
    assert items[0]["error"]["code"] == "forbidden"
    assert _runs(fleet, alice.device_id) == alice_runs
    assert [s for _, s, _, _ in _runs(fleet, mallory.device_id)] == ["pass"]


def test_oversized_and_empty_batches_are_refused_with_what_to_do(fleet: Fleet) -> None:
    device = fleet.enroll()
    t0 = fleet.clock.now() - timedelta(days=1)
    too_many = [_report(t0 + timedelta(minutes=n), "pass") for n in range(MAX_REPORTS_PER_BATCH + 1)]
    for reports in (too_many, []):
        answer = _batch(fleet, device, reports)
        assert answer.status_code == 422, answer.text
        assert answer.json()["code"] == "invalid_request"
        assert "reports" in answer.json()["message"]
    assert _receipts(fleet) == 0
    full = _batch(fleet, device, too_many[:MAX_REPORTS_PER_BATCH])
    assert [i["status"] for i in full.json()["results"]] == [200] * MAX_REPORTS_PER_BATCH


def test_an_unknown_key_refuses_the_whole_batch(fleet: Fleet) -> None:
    device = fleet.enroll()
    stranger = Device(device_id="nobody", key="fwd_" + "x" * 40, uuid="NOBODY", hostname="nobody")
    answer = _batch(fleet, stranger, [_report(fleet.clock.now(), "pass")])
    assert (answer.status_code, answer.json()["code"]) == (401, "device_key_invalid")
    assert _receipts(fleet) == 0
    assert _batch(fleet, device, [_report(fleet.clock.now(), "pass")]).status_code == 200


def test_a_batch_takes_one_request_of_the_devices_rate(fleet: Fleet) -> None:
    device = fleet.enroll()
    t0 = fleet.clock.now() - timedelta(days=1)
    for n in range(59):
        assert fleet.report(device, [result(POLICY, "pass")], at=t0 + timedelta(minutes=n)).status_code == 200
    backlog = [_report(t0 + timedelta(hours=2, minutes=n), "pass") for n in range(10)]
    assert [i["status"] for i in _batch(fleet, device, backlog).json()["results"]] == [200] * 10
    limited = _batch(fleet, device, [_report(t0 + timedelta(hours=3), "pass")]).json()["results"]
    assert limited[0]["status"] == 429
    assert limited[0]["error"]["code"] == "rate_limited"
