"""Enrollment: secrets that expire or are revoked cannot enroll; the same hardware keeps its history."""

from __future__ import annotations

from datetime import timedelta

from tests.collector.support import Fleet, bearer, result


def _enroll_raw(fleet: Fleet, secret: str, hw_uuid: str = "UUID-1") -> tuple[int, dict[str, object]]:
    response = fleet.client.post(
        "/v1/enroll",
        json={"enroll_secret": secret, "host": {"uuid": hw_uuid, "hostname": "GP-1", "platform": "windows"}},
    )
    return response.status_code, response.json()


def test_an_unknown_secret_cannot_enroll(fleet: Fleet) -> None:
    status, body = _enroll_raw(fleet, "fwe_not-a-real-secret")
    assert (status, body["code"]) == (401, "enroll_secret_invalid")


def test_an_expired_secret_cannot_enroll(fleet: Fleet) -> None:
    secret = fleet.enroll_secret(expires_in=timedelta(hours=1))
    fleet.clock.advance(timedelta(hours=1))
    status, body = _enroll_raw(fleet, secret)
    assert (status, body["code"]) == (401, "enroll_secret_invalid")
    assert "expired" in str(body["message"])


def test_a_revoked_secret_cannot_enroll(fleet: Fleet) -> None:
    created = fleet.client.post(
        "/v1/admin/enroll-secrets",
        json={"name": "surgery A", "expires_in": "P7D"},
        headers=bearer(fleet.admin),
    )
    assert created.status_code == 201, created.text
    secret, secret_id = created.json()["secret"], created.json()["id"]
    assert _enroll_raw(fleet, secret)[0] == 200
    revoked = fleet.client.post(f"/v1/admin/enroll-secrets/{secret_id}/revoke", headers=bearer(fleet.admin))
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    status, body = _enroll_raw(fleet, secret, "UUID-2")
    assert (status, body["code"]) == (401, "enroll_secret_invalid")
    assert "revoked" in str(body["message"])


def test_reenrolling_the_same_hardware_keeps_the_device_and_its_history(fleet: Fleet) -> None:
    first = fleet.enroll("GP-LAPTOP-7", hw_uuid="4C4C4544-0042-3510-8052-B4C04F4E3232")
    assert fleet.report(first, [result("encryption-windows-bitlocker", "fail")]).status_code == 200
    fleet.clock.advance(timedelta(days=2))
    second = fleet.enroll("GP-LAPTOP-7-rebuilt", hw_uuid="4C4C4544-0042-3510-8052-B4C04F4E3232")
    assert second.device_id == first.device_id
    old_key = fleet.report(first, [result("encryption-windows-bitlocker", "pass")])
    assert (old_key.status_code, old_key.json()["code"]) == (401, "device_key_invalid")
    assert fleet.report(second, [result("encryption-windows-bitlocker", "pass")]).status_code == 200
    history = fleet.client.get(f"/v1/devices/{first.device_id}/history", headers=bearer(fleet.admin)).json()
    assert [r["status"] for r in history["runs"]] == ["fail", "pass"]
    assert history["device"]["hostname"] == "GP-LAPTOP-7-rebuilt"
    assert history["device"]["last_enrolled_at"] is not None


def test_the_secrets_practice_tags_the_device(fleet: Fleet) -> None:
    device = fleet.enroll(secret=fleet.enroll_secret(practice="Y01234"), practice="OTHER")
    found = fleet.client.get("/v1/devices", params={"practice": "Y01234"}, headers=bearer(fleet.admin)).json()
    assert [d["device_id"] for d in found["devices"]] == [device.device_id]


def test_malformed_enrollment_is_a_422_naming_the_field(fleet: Fleet) -> None:
    response = fleet.client.post(
        "/v1/enroll",
        json={"enroll_secret": "x" * 10, "host": {"uuid": "u", "hostname": "h", "platform": "beos"}},
    )
    body = response.json()
    assert (response.status_code, body["code"]) == (422, "invalid_request")
    assert "host.platform" in body["message"]
