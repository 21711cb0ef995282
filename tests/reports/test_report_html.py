"""The HTML report, checked by rendering it in Chromium: what an auditor sees and prints."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest

from collector.reports.build import build_report
from collector.reports.model import ComplianceReport
from collector.reports.render import renderer_for
from collector.reports.verify import verify_bytes
from tests.reports.browser import artifact
from tests.reports.factory import AT, DAY, START, all_stale_fleet, empty_fleet, mixed_fleet

FLEETS = {"mixed": mixed_fleet, "empty": empty_fleet, "all-stale": all_stale_fleet}
A4_POINTS = (595.28, 841.89)


def report_for(fleet: str, **kwargs: Any) -> ComplianceReport:
    options: dict[str, Any] = {"at": AT, "period": None, "framework": None}
    options.update(kwargs)
    return build_report(FLEETS[fleet](), generated_at=AT + DAY, source="sqlite:///fleet.db", **options)


def open_offline(browser: Any, path: Path) -> tuple[Any, list[str]]:
    """A page that refuses every request but the report file itself, and records them."""
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    requested: list[str] = []

    def guard(route: Any) -> None:
        requested.append(route.request.url)
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            route.abort()

    page.route("**/*", guard)
    page.goto(path.as_uri())
    return page, requested


def test_html_is_byte_identical_sealed_and_free_of_external_urls() -> None:
    report = report_for("mixed")
    data = renderer_for("html").render(report)
    assert data == renderer_for("html").render(report)
    assert verify_bytes(data).ok
    assert verify_bytes(data, against=renderer_for("json").render(report)).ok
    assert re.findall(rb"(?:https?|ftp)://|//cdn|<script|<link", data) == []
    tampered = data.replace(b"64.0%", b"94.0%")
    assert tampered != data
    assert not verify_bytes(tampered).ok


@pytest.mark.browser
@pytest.mark.parametrize("fleet", list(FLEETS))
def test_html_renders_offline_with_the_reports_numbers(browser: Any, fleet: str, tmp_path: Path) -> None:
    report = report_for(fleet, at=None, period=(START, AT))
    path = tmp_path / f"report-{fleet}.html"
    path.write_bytes(renderer_for("html").render(report))
    page, requested = open_offline(browser, path)
    try:
        assert requested == [path.as_uri()]  # nothing fetched: it opens offline
        summary = report.summary
        pct = "n/a" if summary.pairs.rate is None else f"{summary.pairs.rate * 100:.1f}%"
        assert page.inner_text("#pair-rate") == pct
        assert page.inner_text("#device-count") == str(summary.devices)
        assert page.inner_text("#stale-count") == str(summary.stale_devices)
        assert page.inner_text("#breach-count") == str(summary.breaches)
        assert page.inner_text("#report-digest") == report.digest
        assert page.inner_text("#report-period") == "2026-03-01 00:00:00 UTC to 2026-03-31 12:00:00 UTC"
        for chart in page.query_selector_all(".chart svg"):
            box = chart.bounding_box()
            assert box is not None
            assert box["width"] > 200
        assert page.get_by_text("Fleet compliance rate per day (UTC)").is_visible()
        page.screenshot(path=str(artifact(f"reports/html-{fleet}.png")), full_page=True)
    finally:
        page.close()


@pytest.mark.browser
def test_html_shows_every_status_evidence_and_waiver(browser: Any, tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    path.write_bytes(renderer_for("html").render(report_for("mixed")))
    page, _ = open_offline(browser, path)
    try:
        attention = page.inner_text("#attention")
        for status in ("fail", "error", "in_grace", "waived"):
            assert re.search(rf"\b{status}\b", attention)
        assert "protection_status" in attention  # evidence rows as a table
        assert "no such table: windows_firewall_profiles" in attention
        assert "Kiosk laptop, no patient data" in attention
        devices = page.inner_text("#devices")
        assert "stale" in devices
        assert "re-enrolled 2026-03-13" in devices
        waivers = page.inner_text("#waivers")
        assert "expired, ended in the report window" in waivers
        assert "Host firewall on <all profiles>" in page.inner_text("#policies")  # escaped, shown as text
    finally:
        page.close()


@pytest.mark.browser
def test_html_prints_to_a4_without_overflow(browser: Any, tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    report = report_for("mixed")
    path.write_bytes(renderer_for("html").render(report))
    page, _ = open_offline(browser, path)
    try:
        page.emulate_media(media="print")
        page.set_viewport_size({"width": 703, "height": 1000})  # A4 minus margins at 96 dpi
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0
        printed = artifact("reports/html-printed.pdf")
        page.pdf(path=str(printed), format="A4", print_background=True)
    finally:
        page.close()
    pdf = pdfium.PdfDocument(str(printed))
    assert len(pdf) >= 2
    width, height = pdf[0].get_size()
    assert abs(width - A4_POINTS[0]) < 2
    assert abs(height - A4_POINTS[1]) < 2  # Chromium rounds to whole CSS pixels
    text = "".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    assert "Fleet compliance report" in text
    assert "64.0%" in text
    pdf[0].render(scale=1).to_pil().save(artifact("reports/html-printed-page1.png"))
