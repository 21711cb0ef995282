"""Auditor statuses through the API: grace, waivers (device and practice), staleness, failing-since."""

from __future__ import annotations

from datetime import timedelta

from tests.collector.support import Fleet, bearer, result

GRACED = "firewall-windows-on"  # one day of grace in the shipped catalogue
STRICT = "encryption-windows-bitlocker"  # no grace


def test_a_failure_is_in_grace_for_the_policys_grace_then_fails(fleet: Fleet) -> None:
    device = fleet.enroll()
    t0 = fleet.clock.now()
    fleet.report(device, [result(GRACED, "pass"), result(STRICT, "pass")])
    fleet.clock.set(t0 + timedelta(hours=1))
    fleet.report(device, [result(GRACED, "fail"), result(STRICT, "fail")])
    fleet.clock.set(t0 + timedelta(days=3))
    fleet.report(device, [result(GRACED, "fail"), result(STRICT, "fail")])
    assert fleet.pair_status(device, GRACED, t0 + timedelta(hours=12)) == "in_grace"
    assert fleet.pair_status(device, STRICT, t0 + timedelta(hours=12)) == "fail"
    assert fleet.pair_status(device, GRACED, t0 + timedelta(days=1, hours=1)) == "fail"
    state = fleet.state(t0 + timedelta(days=3), policy=GRACED)
    [pair] = state["pairs"]
    assert pair["failing_since"].startswith((t0 + timedelta(hours=1)).isoformat()[:19])
    assert abs(pair["days_out_of_compliance"] - (3 - 1 / 24)) < 1e-6


def test_waivers_for_a_device_and_a_practice_show_as_waived_while_active(fleet: Fleet) -> None:
    secret = fleet.enroll_secret(practice="Y01234")
    one, two = fleet.enroll("ONE", secret=secret), fleet.enroll("TWO", secret=secret)
    other = fleet.enroll("THREE")
    t0 = fleet.clock.now()
    for device in (one, two, other):
        fleet.report(device, [result(STRICT, "fail")])
    fleet.clock.advance(timedelta(hours=1))
    granted = fleet.client.post(
        "/v1/waivers",
        headers=bearer(fleet.admin),
        json={
            "policy_id": STRICT,
            "practice": "Y01234",
            "justification": "BitLocker blocked by a smartcard reader driver; vendor fix due",
            "owner": "Practice manager, Y01234",
            "expires_at": (t0 + timedelta(days=10)).isoformat(),
        },
    )
    assert granted.status_code == 201, granted.text
    waiver = granted.json()
    at = t0 + timedelta(days=1)
    assert [fleet.pair_status(d, STRICT, at) for d in (one, two, other)] == ["waived", "waived", "fail"]
    assert fleet.pair_status(one, STRICT, t0 + timedelta(minutes=30)) == "fail"  # not before it was granted

    fleet.clock.set(t0 + timedelta(days=2))
    revoked = fleet.client.post(f"/v1/waivers/{waiver['id']}/revoke", headers=bearer(fleet.admin))
    assert revoked.json()["revoked_at"] is not None
    assert fleet.pair_status(one, STRICT, t0 + timedelta(days=1)) == "waived"  # history keeps it
    assert fleet.pair_status(one, STRICT, t0 + timedelta(days=2, seconds=1)) == "fail"
    listed = fleet.client.get("/v1/waivers", params={"device_id": one.device_id}, headers=bearer(fleet.admin))
    assert [w["id"] for w in listed.json()] == [waiver["id"]]
    history = fleet.client.get(f"/v1/devices/{one.device_id}/history", headers=bearer(fleet.admin)).json()
    assert [w["id"] for w in history["waivers"]] == [waiver["id"]]


def test_a_waiver_needs_a_device_or_a_practice_and_a_future_expiry(fleet: Fleet) -> None:
    device = fleet.enroll()
    base = {"policy_id": STRICT, "justification": "a long enough reason", "owner": "IT lead"}
    now = fleet.clock.now()
    cases = [
        {**base, "expires_at": (now + timedelta(days=1)).isoformat()},
        {
            **base,
            "device_id": device.device_id,
            "practice": "X",
            "expires_at": (now + timedelta(days=1)).isoformat(),
        },
        {**base, "device_id": device.device_id, "expires_at": (now - timedelta(days=1)).isoformat()},
    ]
    for body in cases:
        response = fleet.client.post("/v1/waivers", json=body, headers=bearer(fleet.admin))
        assert (response.status_code, response.json()["code"]) == (422, "invalid_request"), body
    unknown = fleet.client.post(
        "/v1/waivers",
        json={**base, "device_id": "nope", "expires_at": (now + timedelta(days=1)).isoformat()},
        headers=bearer(fleet.admin),
    )
    assert (unknown.status_code, unknown.json()["code"]) == (404, "not_found")


def test_a_silent_device_becomes_stale_after_the_validity_period(fleet: Fleet) -> None:
    device = fleet.enroll()
    t0 = fleet.clock.now()
    fleet.report(device, [result(STRICT, "pass")])
    assert fleet.pair_status(device, STRICT, t0 + timedelta(days=30)) == "pass"
    assert fleet.pair_status(device, STRICT, t0 + timedelta(days=30, seconds=1)) == "stale"
    never = fleet.pair_status(device, "patch-windows-build-current", t0)
    assert never == "stale"  # applicable, never reported: a silent device is not a compliant one


def test_a_silent_device_is_stale_only_on_the_policies_that_apply_to_its_platform(fleet: Fleet) -> None:
    win = fleet.enroll("WIN")
    mac = fleet.enroll("MAC", platform="darwin")
    t0 = fleet.clock.now()
    filevault = "encryption-macos-filevault"
    # The agent reports other platforms' policies as not_applicable; then the Windows laptop falls silent.
    fleet.report(win, [result(STRICT, "pass"), result(filevault, "not_applicable")])
    fleet.report(mac, [result(filevault, "pass")])
    fleet.clock.set(t0 + timedelta(days=20))
    fleet.report(mac, [result(filevault, "pass")])
    later = t0 + timedelta(days=31)
    assert fleet.pair_status(win, STRICT, later) == "stale"
    assert fleet.pair_status(win, filevault, later) == "not_applicable"
    by_policy = {p["policy_id"]: p["by_status"] for p in fleet.state(later)["by_policy"]}
    assert {k: v for k, v in by_policy[filevault].items() if v} == {"pass": 1, "not_applicable": 1}  # not 50%
    assert by_policy[STRICT]["stale"] == 1


def test_counts_add_up_by_policy_and_platform(fleet: Fleet) -> None:
    win = fleet.enroll("WIN")
    mac = fleet.enroll("MAC", platform="darwin")
    fleet.report(win, [result(STRICT, "pass")])
    fleet.report(mac, [result("encryption-macos-filevault", "fail")])
    state = fleet.state(fleet.clock.now())
    assert state["totals"]["total"] == sum(p["total"] for p in state["by_policy"])
    assert state["totals"]["total"] == sum(p["total"] for p in state["by_platform"])
    by_policy = {p["policy_id"]: p["by_status"] for p in state["by_policy"]}
    assert by_policy[STRICT]["pass"] == 1
    assert by_policy["encryption-macos-filevault"]["fail"] == 1
    assert STRICT not in {p["policy_id"] for p in state["pairs"] if p["device_id"] == mac.device_id}


def test_pairs_are_paged_with_a_cursor(fleet: Fleet) -> None:
    for n in range(3):
        fleet.enroll(f"HOST-{n}")
    seen: list[tuple[str, str]] = []
    cursor = None
    while True:
        params = {"at": fleet.clock.now().isoformat(), "limit": 4}
        if cursor:
            params["cursor"] = cursor
        body = fleet.client.get("/v1/fleet/state", params=params, headers=bearer(fleet.admin)).json()
        seen += [(p["device_id"], p["policy_id"]) for p in body["pairs"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == body["totals"]["total"]
    bad = fleet.client.get("/v1/fleet/state", params={"cursor": "!!"}, headers=bearer(fleet.admin))
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_request")


def test_baselines_show_provenance_and_go_stale_when_a_floor_is_missing(fleet: Fleet) -> None:
    from datetime import UTC, datetime

    def baselines(at: datetime) -> dict[str, dict]:
        response = fleet.client.get(
            "/v1/policies/baselines", params={"at": at.isoformat()}, headers=bearer(fleet.admin)
        )
        assert response.status_code == 200, response.text
        return {b["name"]: b for b in response.json()}

    july = baselines(datetime(2026, 7, 1, tzinfo=UTC))
    assert july["windows"]["state"] == "fresh"
    assert july["windows"]["newest_floor"] == "2026-06-09"
    assert july["windows"]["refreshed"] == "2026-06-23"
    assert "DFG-WIN-2026-06-23" in july["windows"]["sources"]
    today = baselines(datetime(2026, 12, 1, 9, tzinfo=UTC))
    assert today["windows"]["state"] == "stale"
    assert today["windows"]["due"] == "2026-11-10"
    assert "fleetward policies baselines refresh" in today["windows"]["message"]
    assert today["macos"]["state"] == "stale"
    assert today["ubuntu"]["state"] == "fresh"
