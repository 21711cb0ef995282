"""Ingestion: idempotent, placed by observed time, only by the device itself, never half-written."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select

from collector.store.credentials import Role
from collector.store.models import IngestedReport
from tests.collector.support import Fleet, bearer, result

POLICY = "encryption-windows-bitlocker"


def _runs(fleet: Fleet, device_id: str) -> list[tuple[str, str, str]]:
    history = fleet.client.get(f"/v1/devices/{device_id}/history", headers=bearer(fleet.admin)).json()
    return [(r["policy_id"], r["status"], r["since"]) for r in history["runs"]]


def test_the_same_report_twice_changes_nothing(fleet: Fleet) -> None:
    device = fleet.enroll()
    report_id = str(uuid.uuid4())
    first = fleet.report(device, [result(POLICY, "fail")], report_id=report_id)
    before = _runs(fleet, device.device_id)
    fleet.clock.advance(timedelta(hours=1))
    again = fleet.report(device, [result(POLICY, "pass")], report_id=report_id, at=fleet.clock.now())
    assert first.json() == {"report_id": report_id, "duplicate": False, "transitions": 1}
    assert again.status_code == 200
    assert again.json() == {"report_id": report_id, "duplicate": True, "transitions": 0}
    assert _runs(fleet, device.device_id) == before
    metrics = fleet.client.get("/metrics").text
    assert "fleetward_reports_duplicate_total 1.0" in metrics
    assert "fleetward_reports_ingested_total 1.0" in metrics


def test_reports_arriving_out_of_order_are_placed_by_observed_time(fleet: Fleet) -> None:
    device = fleet.enroll()
    t0 = fleet.clock.now()
    fleet.clock.advance(timedelta(days=3))
    for day, status in [(2, "pass"), (0, "pass"), (1, "fail")]:
        response = fleet.report(device, [result(POLICY, status)], at=t0 + timedelta(days=day))
        assert response.status_code == 200, response.text
    statuses = [(s, since) for _, s, since in _runs(fleet, device.device_id)]
    assert [s for s, _ in statuses] == ["pass", "fail", "pass"]
    assert fleet.pair_status(device, POLICY, t0 + timedelta(hours=12)) == "pass"
    assert fleet.pair_status(device, POLICY, t0 + timedelta(days=1, hours=12)) == "fail"
    assert fleet.pair_status(device, POLICY, t0 + timedelta(days=2, hours=1)) == "pass"


def test_transitions_give_the_state_before_between_and_after_each_change(fleet: Fleet) -> None:
    device = fleet.enroll()
    t0 = fleet.clock.advance(timedelta(days=1))
    plan = [(0, "pass"), (1, "pass"), (2, "fail"), (3, "fail"), (4, "pass")]
    transitions = []
    for day, status in plan:
        fleet.clock.set(t0 + timedelta(days=day))
        transitions.append(fleet.report(device, [result(POLICY, status)]).json()["transitions"])
    assert transitions == [1, 0, 1, 0, 1]
    assert len(_runs(fleet, device.device_id)) == 3  # one row per change, not per report
    assert fleet.pair_status(device, POLICY, t0 - timedelta(seconds=1)) == "stale"  # before the first report
    assert fleet.pair_status(device, POLICY, t0 + timedelta(days=1, hours=23)) == "pass"
    assert fleet.pair_status(device, POLICY, t0 + timedelta(days=2)) == "fail"
    assert fleet.pair_status(device, POLICY, t0 + timedelta(days=3, hours=23)) == "fail"
    assert fleet.pair_status(device, POLICY, t0 + timedelta(days=5)) == "pass"
    assert fleet.pair_status(device, POLICY, t0 + timedelta(days=4 + 31)) == "stale"


def test_a_device_cannot_write_another_devices_report(fleet: Fleet) -> None:
    alice, mallory = fleet.enroll("ALICE"), fleet.enroll("MALLORY")
    report_id = str(uuid.uuid4())
    assert fleet.report(alice, [result(POLICY, "pass")], report_id=report_id).status_code == 200
    stolen = fleet.report(mallory, [result(POLICY, "fail")], report_id=report_id)
    assert (stolen.status_code, stolen.json()["code"]) == (403, "forbidden")
    assert _runs(fleet, mallory.device_id) == []
    assert [s for _, s, _ in _runs(fleet, alice.device_id)] == ["pass"]


def test_an_auditor_cannot_write(fleet: Fleet) -> None:
    device = fleet.enroll()
    auditor = fleet.token(Role.AUDITOR)
    response = fleet.report(device, [result(POLICY, "pass")], key=auditor)
    assert (response.status_code, response.json()["code"]) == (403, "forbidden")
    for method, path in [
        ("post", "/v1/admin/tokens"),
        ("post", "/v1/waivers"),
        ("post", "/v1/admin/enroll-secrets"),
    ]:
        denied = fleet.client.request(method, path, json={}, headers=bearer(auditor))
        assert denied.status_code in (403, 422), denied.text
        if denied.status_code == 422:  # body validated first: try a valid body
            raise AssertionError(f"{path} validated the body before checking the role")
    assert _runs(fleet, device.device_id) == []


def test_an_unknown_device_key_is_told_to_reenroll(fleet: Fleet) -> None:
    device = fleet.enroll()
    response = fleet.report(device, [result(POLICY, "pass")], key="fwd_" + "A" * 43)
    assert (response.status_code, response.json()["code"]) == (401, "device_key_invalid")
    anonymous = fleet.client.post("/v1/reports", json={})
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "unauthenticated")


def test_a_device_key_cannot_read(fleet: Fleet) -> None:
    device = fleet.enroll()
    response = fleet.client.get("/v1/fleet/state", headers=bearer(device.key))
    assert (response.status_code, response.json()["code"]) == (403, "forbidden")


def test_one_result_per_policy(fleet: Fleet) -> None:
    device = fleet.enroll()
    response = fleet.report(device, [result(POLICY, "pass"), result(POLICY, "fail")])
    assert (response.status_code, response.json()["code"]) == (422, "invalid_request")
    assert POLICY in response.json()["message"]
    assert _runs(fleet, device.device_id) == []


def test_a_report_from_the_future_is_refused(fleet: Fleet) -> None:
    device = fleet.enroll()
    response = fleet.report(device, [result(POLICY, "pass")], at=fleet.clock.now() + timedelta(days=2))
    assert (response.status_code, response.json()["code"]) == (422, "invalid_request")
    assert "clock" in response.json()["message"]


def test_hostile_bodies_get_4xx_not_500(fleet: Fleet) -> None:
    device = fleet.enroll()
    headers = {**bearer(device.key), "content-type": "application/json"}
    for payload in [b"", b"{", b"[]", b"null", b'{"report_id": 1}', '{"x": "\u0000"}'.encode(), b"\xff\xfe"]:
        response = fleet.client.post("/v1/reports", content=payload, headers=headers)
        assert response.status_code == 422, (payload, response.text)
        assert response.json()["code"] == "invalid_request"
    naive = fleet.report(device, [result(POLICY, "pass")], at=fleet.clock.now().replace(tzinfo=None))
    assert naive.status_code == 422


def test_bodies_over_the_limit_are_refused_with_413(fleet: Fleet) -> None:
    device = fleet.enroll()
    huge = b'{"pad": "' + b"x" * (3 * 1024 * 1024) + b'"}'
    response = fleet.client.post(
        "/v1/reports", content=huge, headers={**bearer(device.key), "content-type": "application/json"}
    )
    assert (response.status_code, response.json()["code"]) == (413, "payload_too_large")

    def chunks():  # no Content-Length: the streamed body is counted
        for _ in range(40):
            yield b"x" * 100_000

    streamed = fleet.client.post("/v1/reports", content=chunks(), headers=bearer(device.key))
    assert (streamed.status_code, streamed.json()["code"]) == (413, "payload_too_large")


def test_a_device_over_its_rate_is_told_when_to_retry(fleet: Fleet) -> None:
    device = fleet.enroll()
    codes = [fleet.report(device, [result(POLICY, "pass")]).status_code for _ in range(62)]
    assert codes[:60] == [200] * 60
    assert codes[-1] == 429
    limited = fleet.report(device, [result(POLICY, "pass")])
    assert limited.json()["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) >= 1
    fleet.clock.advance(timedelta(minutes=1))
    assert fleet.report(device, [result(POLICY, "pass")]).status_code == 200


def test_unknown_paths_and_methods_use_the_error_shape(fleet: Fleet) -> None:
    missing = fleet.client.get("/v1/nope")
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
    wrong = fleet.client.delete("/v1/reports")
    assert (wrong.status_code, wrong.json()["code"]) == (405, "method_not_allowed")


def test_a_revoked_token_stops_working_at_once(fleet: Fleet) -> None:
    created = fleet.client.post(
        "/v1/admin/tokens", json={"name": "temp auditor", "role": "auditor"}, headers=bearer(fleet.admin)
    ).json()
    assert fleet.client.get("/v1/devices", headers=bearer(created["token"])).status_code == 200
    fleet.client.post(f"/v1/admin/tokens/{created['id']}/revoke", headers=bearer(fleet.admin))
    denied = fleet.client.get("/v1/devices", headers=bearer(created["token"]))
    assert (denied.status_code, denied.json()["code"]) == (401, "unauthenticated")


def test_a_late_observation_is_recorded_flagged_in_the_report_and_counted(fleet: Fleet) -> None:
    device = fleet.enroll()
    t0 = fleet.clock.now()
    strict = "encryption-windows-bitlocker"
    fleet.report(device, [result(strict, "fail")], at=t0)
    fleet.clock.set(t0 + timedelta(days=20))
    fleet.report(device, [result(strict, "fail")])
    # One report observed a second before the last one, saying pass, arrives afterwards (a wrong clock).
    fleet.clock.set(t0 + timedelta(days=20, hours=1))
    late = fleet.report(device, [result(strict, "pass")], at=t0 + timedelta(days=20) - timedelta(seconds=1))
    assert late.status_code in (200, 202), late.text
    with fleet.db.read() as session:
        counts = sorted(session.scalars(select(IngestedReport.late_results)).all())
    assert counts == [0, 0, 1]
    body = fleet.client.get(
        "/v1/reports/json", params={"at": fleet.clock.now().isoformat()}, headers=bearer(fleet.admin)
    ).json()
    assert body["summary"]["late_observations"] == 1
    [flagged] = body["late_observations"]
    assert flagged["hostname"] == "GP-LAPTOP-001"
    assert flagged["late_results"] == 1
    assert flagged["received_at"] > flagged["observed_at"]
