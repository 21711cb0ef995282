"""The dashboard in real Chromium against a real collector filled by the recorded devices.

Every number checked on screen is compared with the JSON report downloaded from the same page.
Screenshots go to test-artifacts/ui/.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from collector.reports.verify import verify_bytes
from tests.reports.browser import artifact
from tests.ui.live_collector import SILENT_DEVICE, LiveCollector


def percent(rate: dict[str, Any]) -> str:
    return "n/a" if rate["rate"] is None else f"{rate['rate'] * 100:.1f}%"


@pytest.fixture
def page(browser: Any, live_collector: LiveCollector) -> Iterator[Any]:
    context = browser.new_context(
        base_url=live_collector.url, accept_downloads=True, viewport={"width": 1280, "height": 900}
    )
    outside: list[str] = []
    context.on("request", lambda r: None if r.url.startswith(live_collector.url) else outside.append(r.url))
    page = context.new_page()
    yield page
    context.close()
    assert outside == []  # the dashboard loads nothing from anywhere else


def sign_in(page: Any, token: str) -> None:
    page.goto("/ui/")
    assert page.url.endswith("/ui/sign-in")
    page.fill("#token", token)
    page.click("button[type=submit]")


def download_json(page: Any) -> tuple[bytes, dict[str, Any]]:
    with page.expect_download() as info:
        page.click("#download-json")
    data = info.value.path().read_bytes()
    return data, json.loads(data)


def test_nothing_is_readable_without_signing_in(live_collector: LiveCollector) -> None:
    with httpx.Client(base_url=live_collector.url) as client:
        for path in ("/ui/", "/ui/devices/x", "/ui/policies/x", "/ui/frameworks/dspt", "/ui/download/json"):
            response = client.get(path, follow_redirects=False)
            assert response.status_code == 303, path
            assert response.headers["location"] == "/ui/sign-in"
            assert "GP-" not in response.text
        client.cookies.set("fleetward_ui", "tok_x.9999999999.00")
        forged = client.get("/ui/", follow_redirects=False)
        assert forged.status_code == 303


def test_sign_in_refuses_cross_site_forms_and_device_keys(live_collector: LiveCollector) -> None:
    with httpx.Client(base_url=live_collector.url) as client:
        no_csrf = client.post("/ui/sign-in", data={"token": live_collector.auditor_token, "csrf": "guess"})
        assert no_csrf.status_code == 400
        assert "fleetward_ui=" not in no_csrf.headers.get("set-cookie", "")
        csrf = client.get("/ui/sign-in").cookies["fleetward_ui_csrf"]
        device = client.post("/ui/sign-in", data={"token": live_collector.device_key, "csrf": csrf})
        assert device.status_code == 401
        assert "not an auditor or admin token" in device.text


@pytest.mark.browser
def test_wrong_token_is_told_and_stays_out(page: Any) -> None:
    sign_in(page, "tok_not-a-real-token")
    assert "unknown, revoked, or not an auditor or admin token" in page.inner_text("#problem")
    page.goto("/ui/")
    assert page.url.endswith("/ui/sign-in")


@pytest.mark.browser
def test_overview_numbers_match_the_json_report(page: Any, live_collector: LiveCollector) -> None:
    sign_in(page, live_collector.auditor_token)
    assert page.url.endswith("/ui/")
    cookie = next(c for c in page.context.cookies() if c["name"] == "fleetward_ui")
    assert cookie["httpOnly"]
    assert cookie["sameSite"] == "Strict"
    assert live_collector.auditor_token not in cookie["value"]
    data, report = download_json(page)
    assert verify_bytes(data).ok
    summary = report["summary"]
    assert page.inner_text("#pair-rate") == percent(summary["pairs"])
    assert (
        page.inner_text("#pair-counts") == f"{summary['pairs']['compliant']} of {summary['pairs']['total']}"
    )
    assert page.inner_text("#device-rate") == percent(summary["devices_compliant"])
    assert page.inner_text("#device-count") == str(summary["devices"]) == "23"
    assert page.inner_text("#stale-count") == str(summary["stale_devices"]) == "1"
    assert page.inner_text("#breach-count") == str(summary["breaches"])
    assert page.inner_text("#waiver-count") == str(summary["active_waivers"]) == "1"
    assert page.locator("#trend-chart svg").bounding_box()["width"] > 400
    rows = page.locator("#policies tbody tr")
    assert rows.count() == len(report["policies"])
    page.screenshot(path=str(artifact("ui/overview.png")), full_page=True)


@pytest.mark.browser
def test_every_download_button_gives_a_verifiable_report(page: Any, live_collector: LiveCollector) -> None:
    sign_in(page, live_collector.auditor_token)
    as_json, _ = download_json(page)
    for fmt in ("csv", "html", "pdf"):
        with page.expect_download() as info:
            page.click(f"#download-{fmt}")
        data = info.value.path().read_bytes()
        assert info.value.suggested_filename.endswith(f".{fmt}")
        assert verify_bytes(data, against=as_json).ok, fmt


@pytest.mark.browser
def test_framework_and_policy_views_match_the_json_report(page: Any, live_collector: LiveCollector) -> None:
    sign_in(page, live_collector.auditor_token)
    _, report = download_json(page)
    control = next(c for c in report["controls"] if c["framework"] == "dspt" and c["devices"]["total"])
    page.click(f"header nav a[href='/ui/frameworks/{control['framework']}']")
    row = page.locator(f"#controls tr[id='control-{control['control']}']")
    assert f"{control['devices']['compliant']} of {control['devices']['total']}" in row.inner_text()
    assert percent(control["devices"]) in row.inner_text()
    page.screenshot(path=str(artifact("ui/framework-dspt.png")), full_page=True)
    policy_id = control["policy_ids"][0]
    row.locator(f"a[href='/ui/policies/{policy_id}']").click()
    policy = next(p for p in report["policies"] if p["id"] == policy_id)
    assert page.inner_text("#policy-rate") == percent(policy["pairs"])
    for status, count in policy["status_counts"].items():
        assert page.inner_text(f"#count-{status}") == str(count)
    # every pair is listed, not_applicable too, though only applicable pairs count in the rate
    assert page.locator("#pairs > tbody > tr").count() == sum(policy["status_counts"].values())
    page.screenshot(path=str(artifact("ui/policy.png")), full_page=True)


@pytest.mark.browser
def test_device_view_shows_evidence_waiver_and_history(page: Any, live_collector: LiveCollector) -> None:
    sign_in(page, live_collector.auditor_token)
    _, report = download_json(page)
    failing = next(p for p in report["pairs"] if p["status"] == "fail" and p["evidence"])
    device = next(d for d in report["devices"] if d["device_id"] == failing["device_id"])
    page.click(f"#devices a[href='/ui/devices/{device['device_id']}']")
    assert page.inner_text("h1") == device["hostname"]
    assert page.inner_text("#device-status") == device["status"]
    pair_row = page.locator(f"#pair-{failing['policy_id']}")
    assert "fail" in pair_row.inner_text()
    first_column = sorted(failing["evidence"][0])[0]
    assert first_column in pair_row.inner_text()  # the evidence rows, as a table
    assert page.locator("#timeline rect").count() >= 1
    assert page.locator("#runs tbody tr").count() >= 1
    page.screenshot(path=str(artifact("ui/device-failing.png")), full_page=True)
    waived = next(p for p in report["pairs"] if p["status"] == "waived")
    page.goto(f"/ui/devices/{waived['device_id']}")
    assert "Replacement laptop ordered" in page.inner_text(f"#pair-{waived['policy_id']}")


@pytest.mark.browser
def test_filters_narrow_the_device_list_like_the_json_report(
    page: Any, live_collector: LiveCollector
) -> None:
    sign_in(page, live_collector.auditor_token)
    _, report = download_json(page)
    page.select_option("#filter-platform", "darwin")
    page.click("#apply-filters")
    darwin = [d for d in report["devices"] if d["platform"] == "darwin"]
    assert (
        page.inner_text("#device-list-count")
        == f"{len(darwin)} of {len(report['devices'])} devices (up to 100 a page)"
    )
    page.select_option("#filter-platform", "")
    page.select_option("#filter-status", "stale")
    page.click("#apply-filters")
    assert page.locator("#devices > tbody > tr").count() == 1
    assert live_collector.hostnames[SILENT_DEVICE] in page.inner_text("#devices")
    page.select_option("#filter-status", "")
    page.select_option("#filter-practice", "P81002")
    page.click("#apply-filters")
    in_practice = [d for d in report["devices"] if d["practice"] == "P81002"]
    assert page.locator("#devices > tbody > tr").count() == len(in_practice)
    page.goto("/ui/?platform=beos")
    assert re.search(r"Unknown platform 'beos'", page.inner_text("#filter-problems"))
    page.screenshot(path=str(artifact("ui/filters.png")), full_page=True)


@pytest.mark.browser
def test_sign_out_ends_the_session(page: Any, live_collector: LiveCollector) -> None:
    sign_in(page, live_collector.auditor_token)
    page.click("header form button")
    assert page.url.endswith("/ui/sign-in")
    page.goto("/ui/")
    assert page.url.endswith("/ui/sign-in")


@pytest.mark.browser
def test_the_date_picker_shows_the_fleet_at_an_earlier_instant_and_links_keep_it(
    page: Any, live_collector: LiveCollector
) -> None:
    sign_in(page, live_collector.auditor_token)
    page.fill("#pick-at", "2026-11-10")
    page.click("#apply-instant")
    assert "at=2026-11-10" in page.url
    assert page.inner_text("#report-at").startswith("2026-11-11 00:00")  # the end of the day picked
    data, report = download_json(page)
    assert verify_bytes(data).ok
    assert report["scope"]["at"].startswith("2026-11-11T00:00:00")
    assert page.inner_text("#pair-rate") == percent(report["summary"]["pairs"])
    device = report["devices"][0]
    assert page.locator(f"#devices a[href='/ui/devices/{device['device_id']}?at=2026-11-10']").count() == 1
    page.goto("/ui/?from=2026-11-01&to=2026-11-20")
    assert page.inner_text("#report-from").startswith("2026-11-01 00:00")
    page.goto("/ui/?at=not-a-date")
    assert "is not a date or an instant" in page.inner_text(".instant-problem")


@pytest.mark.browser
def test_the_practice_view_matches_the_reports_practice_section(
    page: Any, live_collector: LiveCollector
) -> None:
    sign_in(page, live_collector.auditor_token)
    _, report = download_json(page)
    rollup = next(r for r in report["practices"] if r["practice"] == "P81002")
    page.click("#practices a[href^='/ui/practices/P81002']")
    assert page.inner_text("#practice-pair-rate") == percent(rollup["pairs"])
    assert page.inner_text("#practice-device-rate") == percent(rollup["devices"])
    assert page.inner_text("#practice-breaches") == str(rollup["breaches"])
    assert page.inner_text("#practice-stale") == str(len(rollup["stale_devices"]))
    in_practice = [d for d in report["devices"] if d["practice"] == "P81002"]
    assert page.locator("#devices > tbody > tr").count() == len(in_practice)
    page.screenshot(path=str(artifact("ui/practice.png")), full_page=True)
