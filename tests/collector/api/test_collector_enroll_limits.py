"""Enrollment cannot be farmed or used to take over a laptop: rate limits per client and per secret,
use limits, practice binding, and re-enrolment only with a secret of the device's practice, recorded."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from collector.store.credentials import Hasher, Role, create_enroll_secret
from collector.store.models import AgentEventRow
from tests.collector.support import Fleet, bearer


def _enroll(
    fleet: Fleet, secret: str, hw_uuid: str, practice: str | None = None
) -> tuple[int, dict[str, object]]:
    response = fleet.client.post(
        "/v1/enroll",
        json={
            "enroll_secret": secret,
            "host": {
                "uuid": hw_uuid,
                "hostname": f"host-{hw_uuid}",
                "platform": "windows",
                "practice": practice,
            },
        },
    )
    return response.status_code, response.json()


def _secret(fleet: Fleet, *, practice: str | None = None, max_uses: int | None = None) -> str:
    with fleet.db.write() as session:
        return create_enroll_secret(
            session,
            Hasher(),
            name="t",
            practice=practice,
            expires_at=fleet.clock.now() + timedelta(days=1),
            now=fleet.clock.now(),
            created_by="tests",
            max_uses=max_uses,
        ).secret


def test_wrong_secrets_from_one_client_are_rate_limited(fleet: Fleet) -> None:
    codes = [_enroll(fleet, f"fwe_wrong-{n:04d}-secret", f"U-{n}")[0] for n in range(40)]
    assert codes[0] == 401
    assert 429 in codes
    status, body = _enroll(fleet, "fwe_wrong-secret-again", "U-x")
    assert (status, body["code"]) == (429, "rate_limited")
    fleet.clock.advance(timedelta(minutes=10))  # the bucket refills
    assert _enroll(fleet, _secret(fleet), "U-later")[0] == 200


def test_a_secret_makes_at_most_its_max_uses(fleet: Fleet) -> None:
    secret = _secret(fleet, max_uses=3)
    assert [_enroll(fleet, secret, f"U-{n}")[0] for n in range(3)] == [200, 200, 200]
    status, body = _enroll(fleet, secret, "U-4")
    assert (status, body["code"]) == (401, "enroll_secret_invalid")
    assert "3 enrolments" in str(body["message"])


def test_the_admin_api_gives_every_new_secret_a_use_limit(fleet: Fleet) -> None:
    created = fleet.client.post(
        "/v1/admin/enroll-secrets", json={"name": "rollout"}, headers=bearer(fleet.admin)
    )
    assert created.status_code in (200, 201), created.text
    assert created.json()["max_uses"] == 100
    assert created.json()["uses"] == 0


def test_a_practice_secret_binds_its_devices_to_its_practice(fleet: Fleet) -> None:
    secret = _secret(fleet, practice="Y01234")
    status, _ = _enroll(fleet, secret, "U-1", practice="Y99999")  # the host's own claim loses
    assert status == 200
    # ...so the device cannot then be re-enrolled with the other practice's secret either
    status, refused = _enroll(fleet, _secret(fleet, practice="Y99999"), "U-1", practice="Y99999")
    assert (status, refused["code"]) == (403, "enroll_practice_mismatch")


def test_re_enrolment_needs_a_secret_of_the_devices_practice_and_is_recorded(fleet: Fleet) -> None:
    victim = fleet.enroll(hw_uuid="VICTIM-UUID", secret=_secret(fleet, practice="Y01234"))
    status, body = _enroll(fleet, _secret(fleet), "VICTIM-UUID")  # any other secret: no takeover
    assert (status, body["code"]) == (403, "enroll_practice_mismatch")
    status, body = _enroll(fleet, _secret(fleet, practice="Y05678"), "VICTIM-UUID")
    assert status == 403
    status, body = _enroll(fleet, _secret(fleet, practice="Y01234"), "VICTIM-UUID", practice="Y01234")
    assert status == 200
    assert body["device_id"] == victim.device_id
    assert body["reenrolled"] is True
    with fleet.db.read() as session:
        events = session.scalars(
            select(AgentEventRow).where(AgentEventRow.device_id == victim.device_id)
        ).all()
        assert [e.kind for e in events] == ["reenrolled"]
        assert "previous device keys were revoked" in events[0].message
    history = fleet.client.get(
        f"/v1/devices/{victim.device_id}/history", headers=bearer(fleet.token(Role.AUDITOR))
    )
    assert [e["kind"] for e in history.json()["events"]] == ["reenrolled"]  # auditors see it
