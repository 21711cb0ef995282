"""Hostile input from a laptop gets a clean 4xx naming the field, or is stored harmlessly; never a 500.

Each case is one the adversarial run of issue 14 found answering 500, being stored and breaking
every later report, or growing the policy registry. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from httpx import Response

from tests.collector.support import Device, Fleet, bearer, result

POLICY = "encryption-windows-bitlocker"


def _report_body(fleet: Fleet, results: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "report_id": str(uuid.uuid4()),
        "kind": "snapshot",
        "observed_at": fleet.clock.now().isoformat(),
        "agent_version": "0.1.0",
        "policy_versions": {r["policy_id"]: r["policy_version"] for r in results},
        "results": results,
    }
    body.update(fields)
    return body


def _post(fleet: Fleet, device: Device, body: dict[str, Any]) -> Response:
    # ensure_ascii keeps lone surrogates as \\ud800 escapes, as a hostile client would send them
    return fleet.client.post(
        "/v1/reports",
        content=json.dumps(body, ensure_ascii=True).encode(),
        headers={**bearer(device.key), "Content-Type": "application/json"},
    )


def _policy_ids(fleet: Fleet) -> set[str]:
    response = fleet.client.get("/v1/policies", headers=bearer(fleet.admin))
    assert response.status_code == 200, response.text
    return {p["id"] for p in response.json()}


def _refused(response: Response, field: str) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == "invalid_request"
    assert body["message"].startswith("the request is not valid: "), body["message"]
    locations = [problem["location"] for problem in body["detail"]]
    assert any(location.startswith(field) for location in locations), locations
    return body


def test_a_mathtext_policy_id_is_refused_and_registers_nothing(fleet: Fleet) -> None:
    device = fleet.enroll()
    before = _policy_ids(fleet)
    response = _post(fleet, device, _report_body(fleet, [result("$\\frac{$", "pass")]))
    _refused(response, "body.results.0.policy_id")
    assert _policy_ids(fleet) == before


def test_twenty_thousand_policy_versions_are_refused(fleet: Fleet) -> None:
    device = fleet.enroll()
    before = _policy_ids(fleet)
    versions = {f"p{n}": "v1" for n in range(20_000)}
    response = _post(fleet, device, _report_body(fleet, [result(POLICY, "pass")], policy_versions=versions))
    assert response.status_code in (413, 422), response.text
    assert response.json()["code"] in ("payload_too_large", "invalid_request")
    assert _policy_ids(fleet) == before


@pytest.mark.parametrize(
    ("key", "value", "field"),
    [
        ("x" * 101, "v1", "body.policy_versions"),
        ("$\\frac{$", "v1", "body.policy_versions"),
        (POLICY, "v" * 65, f"body.policy_versions.{POLICY}"),
        (POLICY, "a\x00b", f"body.policy_versions.{POLICY}"),
    ],
)
def test_policy_versions_keys_and_values_are_bounded(fleet: Fleet, key: str, value: str, field: str) -> None:
    device = fleet.enroll()
    response = _post(
        fleet, device, _report_body(fleet, [result(POLICY, "pass")], policy_versions={key: value})
    )
    _refused(response, field)


def test_a_result_for_an_unknown_policy_is_refused_and_the_rest_ingested(fleet: Fleet) -> None:
    device = fleet.enroll()
    before = _policy_ids(fleet)
    body = _report_body(fleet, [result(POLICY, "fail"), result("made-up-policy", "pass")])
    response = _post(fleet, device, body)
    assert response.status_code == 200, response.text
    ack = response.json()
    assert ack["transitions"] == 1
    assert [(r["policy_id"], r["code"]) for r in ack["refused"]] == [("made-up-policy", "unknown_policy")]
    assert _policy_ids(fleet) == before
    assert fleet.pair_status(device, POLICY, fleet.clock.now()) == "fail"
    assert _post(fleet, device, body).json()["duplicate"] is True


@pytest.mark.parametrize(
    ("where", "field"),
    [
        ("evidence value", "body.results.0.evidence.0"),
        ("evidence key", "body.results.0.evidence.0"),
        ("error", "body.results.0.error"),
        ("agent_version", "body.agent_version"),
        ("event message", "body.events.0.message"),
    ],
)
@pytest.mark.parametrize("bad", ["\x00", "\ud800"], ids=["nul", "lone-surrogate"])
def test_nul_and_lone_surrogates_are_refused_in_every_string(
    fleet: Fleet, where: str, field: str, bad: str
) -> None:
    device = fleet.enroll()
    text = f"before{bad}after"
    one = result(POLICY, "error" if where == "error" else "pass")
    if where == "evidence value":
        one["evidence"] = [{"name": text}]
    elif where == "evidence key":
        one["evidence"] = [{text: "1"}]
    elif where == "error":
        one["error"] = text
    body = _report_body(fleet, [one])
    if where == "agent_version":
        body["agent_version"] = text
    if where == "event message":
        body["events"] = [{"kind": "bundle_refused", "at": fleet.clock.now().isoformat(), "message": text}]
    problem = _refused(_post(fleet, device, body), field)
    problems = json.dumps(problem["detail"])
    assert ("NUL" in problems) if bad == "\x00" else ("surrogate" in problems or "unicode" in problems)
    assert fleet.client.get("/v1/reports/html", headers=bearer(fleet.admin)).status_code == 200


def test_nul_in_an_enrolling_hostname_is_refused(fleet: Fleet) -> None:
    response = fleet.client.post(
        "/v1/enroll",
        json={
            "enroll_secret": fleet.enroll_secret(),
            "host": {"uuid": "U-1", "hostname": "GP\x00LAPTOP", "platform": "windows"},
        },
    )
    _refused(response, "body.host.hostname")


@pytest.mark.parametrize("version", [2**63, 2**64, -1, 100_000_000_000_000])
def test_bundle_version_is_bounded(fleet: Fleet, version: int) -> None:
    device = fleet.enroll()
    response = _post(fleet, device, _report_body(fleet, [result(POLICY, "pass")], bundle_version=version))
    _refused(response, "body.bundle_version")


@pytest.mark.parametrize(
    "instant",
    [
        "0001-01-01T00:00:00+05:00",
        "0001-01-01T00:00:00-05:00",
        "9999-12-31T23:59:59-05:00",
        "9999-12-31T23:00:00+05:00",
    ],
)
def test_instants_far_out_with_offsets_are_refused(fleet: Fleet, instant: str) -> None:
    device = fleet.enroll()
    body = _report_body(fleet, [result(POLICY, "pass")], observed_at=instant)
    _refused(_post(fleet, device, body), "body.observed_at")
    body = _report_body(fleet, [result(POLICY, "pass")])
    body["events"] = [{"kind": "bundle_refused", "at": instant, "message": "x"}]
    _refused(_post(fleet, device, body), "body.events.0.at")
    state = fleet.client.get("/v1/fleet/state", params={"at": instant}, headers=bearer(fleet.admin))
    _refused(state, "query.at")


def test_an_offset_instant_is_stored_in_utc(fleet: Fleet) -> None:
    device = fleet.enroll()
    local = (fleet.clock.now() - timedelta(hours=1)).astimezone().replace(microsecond=0)
    body = _report_body(fleet, [result(POLICY, "fail")], observed_at=local.isoformat())
    assert _post(fleet, device, body).status_code == 200
    assert fleet.pair_status(device, POLICY, fleet.clock.now()) == "fail"


def test_evidence_is_capped_as_the_agent_caps_it(fleet: Fleet) -> None:
    device = fleet.enroll()
    huge = result(POLICY, "pass", evidence=[{"value": "x" * 1_900_000}])
    response = _post(fleet, device, _report_body(fleet, [huge]))
    assert response.status_code in (413, 422), response.text
    over = result(POLICY, "pass", evidence=[{"value": "x" * 4000}, {"value": "y" * 200}])
    _refused(_post(fleet, device, _report_body(fleet, [over])), "body.results.0")
    wide = result(POLICY, "pass", evidence=[{f"k{n}": "" for n in range(20_000)}])
    _refused(_post(fleet, device, _report_body(fleet, [wide])), "body.results.0.evidence.0")
    rows = result(POLICY, "pass", evidence=[{"a": "1"}] * 21)
    _refused(_post(fleet, device, _report_body(fleet, [rows])), "body.results.0.evidence")
    at_cap = result(POLICY, "pass", evidence=[{"value": "x" * 4000}])
    assert _post(fleet, device, _report_body(fleet, [at_cap])).status_code == 200
