"""Stored text is data: rows written before the wire refused them cannot 500 any auditor view.

The rows are written straight into the store, as an older collector accepted them: a policy id
that is matplotlib mathtext, a registry grown to hundreds of junk policies, evidence with a lone
surrogate (SQLite's JSON keeps it as an escape; PostgreSQL never could). Every report format and
every dashboard page must still answer 200. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert, update

from collector.reports.render.charts import MAX_CHART_POLICIES
from collector.store.models import Device, Policy, StatusRun
from collector.store.policies import REPORT
from tests.collector.support import Fleet, bearer, result

POLICY = "encryption-windows-bitlocker"
MATHTEXT = "$\\frac{$"


def _junk_policy(policy_id: str, now: object) -> dict[str, object]:
    return {
        "id": policy_id,
        "version": "v1",
        "title": policy_id,
        "severity": "medium",
        "platforms": [],
        "grace_seconds": 0,
        "frameworks": {},
        "baseline": None,
        "remediation": "",
        "source": REPORT,
        "updated_at": now,
    }


@pytest.fixture
def poisoned(fleet: Fleet, database_url: str) -> Fleet:
    device = fleet.enroll()
    assert fleet.report(device, [result(POLICY, "fail", evidence=[{"status": "0"}])]).status_code == 200
    now = fleet.clock.now()
    junk = [MATHTEXT, "$x^$", *(f"junk-{n:04d}" for n in range(300))]
    with fleet.db.write() as session:
        session.execute(insert(Policy), [_junk_policy(pid, now) for pid in junk])
        session.execute(
            insert(StatusRun),
            [
                {
                    "device_id": device.device_id,
                    "policy_id": MATHTEXT,
                    "status": "fail",
                    "policy_version": "v1",
                    "since": now,
                    "last_seen": now,
                    "next_since": None,
                    "failing_since": now,
                    "evidence": [{"$\\sqrt{": "$\\frac{1}{"}],
                    "error": None,
                    "report_id": None,
                    "last_report_id": None,
                }
            ],
        )
        session.execute(update(Device).values(hostname="$\\frac{$ <script>alert(1)</script>"))
        if database_url.startswith("sqlite"):
            session.execute(
                update(StatusRun)
                .where(StatusRun.policy_id == POLICY)
                .values(evidence=[{"status": "0", "name": "bad \ud800 text"}], error="nul \x00 here")
            )
    fleet.clock.advance(timedelta(minutes=5))
    return fleet


@pytest.mark.parametrize("fmt", ["json", "csv", "html", "pdf"])
def test_every_report_format_builds_over_hostile_stored_rows(poisoned: Fleet, fmt: str) -> None:
    response = poisoned.client.get(f"/v1/reports/{fmt}", headers=bearer(poisoned.admin))
    assert response.status_code == 200, response.text[:500]
    if fmt == "html":
        assert "<script>alert(1)</script>" not in response.text
        assert "\ud800" not in response.text


def test_every_dashboard_page_answers_over_hostile_stored_rows(poisoned: Fleet) -> None:
    client = poisoned.client
    csrf = client.get("/ui/sign-in").cookies["fleetward_ui_csrf"]
    signed = client.post("/ui/sign-in", data={"token": poisoned.admin, "csrf": csrf}, follow_redirects=False)
    assert signed.status_code == 303, signed.text
    device_id = poisoned.state(poisoned.clock.now())["pairs"][0]["device_id"]
    for path in ["/ui/", f"/ui/policies/{MATHTEXT}", f"/ui/policies/{POLICY}", f"/ui/devices/{device_id}"]:
        response = client.get(path)
        assert response.status_code == 200, (path, response.text[:500])
    for fmt in ("html", "pdf"):
        assert client.get(f"/ui/download/{fmt}").status_code == 200


def test_the_policy_chart_is_bounded_however_many_policies_exist(poisoned: Fleet) -> None:
    report = poisoned.client.get("/v1/reports/json", headers=bearer(poisoned.admin)).json()
    assert len(report["policies"]) > MAX_CHART_POLICIES
    svg = poisoned.client.get("/v1/reports/html", headers=bearer(poisoned.admin)).text
    assert f"{len(report['policies']) - MAX_CHART_POLICIES} more in the table" in svg


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2020-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
        {"from": "0001-01-01T00:00:00+05:00", "to": "2026-01-01T00:00:00Z"},
        {"at": "9999-12-31T23:00:00-05:00"},
    ],
)
def test_report_periods_and_instants_are_bounded(fleet: Fleet, params: dict[str, str]) -> None:
    response = fleet.client.get("/v1/reports/json", params=params, headers=bearer(fleet.admin))
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_request"


@pytest.mark.parametrize("at", ["0001-01-01", "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"])
def test_the_dashboard_download_refuses_far_instants(fleet: Fleet, at: str) -> None:
    client = fleet.client
    csrf = client.get("/ui/sign-in").cookies["fleetward_ui_csrf"]
    client.post("/ui/sign-in", data={"token": fleet.admin, "csrf": csrf}, follow_redirects=False)
    response = client.get("/ui/download/json", params={"at": at})
    assert response.status_code == 422, response.text


@pytest.mark.parametrize(
    "cookie",
    ["x.99999999999999999999999999.y", "x." + "9" * 5000 + ".y", "x.1e9.y", "x.-1.y", "..", "a.b.c.d"],
)
def test_odd_session_cookies_are_signed_out_not_errors(fleet: Fleet, cookie: str) -> None:
    fleet.client.cookies.set("fleetward_ui", cookie, path="/ui")
    response = fleet.client.get("/ui/", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].endswith("/ui/sign-in")
