"""The PDF report, checked by rendering its pages with pdfium: text on every page, pixels drawn."""

from __future__ import annotations

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


def report_for(fleet: str, **kwargs: Any) -> ComplianceReport:
    options: dict[str, Any] = {"at": None, "period": (START, AT), "framework": None}
    options.update(kwargs)
    return build_report(FLEETS[fleet](), generated_at=AT + DAY, source="sqlite:///fleet.db", **options)


def pages_text(data: bytes) -> list[str]:
    pdf = pdfium.PdfDocument(data)
    return [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]


@pytest.mark.parametrize("fleet", list(FLEETS))
def test_pdf_pages_carry_the_content_digest_and_page_numbers(fleet: str) -> None:
    report = report_for(fleet)
    data = renderer_for("pdf").render(report)
    texts = pages_text(data)
    assert len(texts) >= 2
    for number, text in enumerate(texts, start=1):
        flat = " ".join(text.split())
        assert report.digest in flat  # footer of every page
        assert f"page {number} of {len(texts)}" in flat
    everything = " ".join(" ".join(texts).split())
    assert "Fleet compliance report" in everything
    assert "Period 2026-03-01 00:00:00 UTC to 2026-03-31 12:00:00 UTC" in everything
    pairs = report.summary.pairs
    rate = "n/a" if pairs.rate is None else f"{pairs.rate * 100:.1f}%"
    assert f"Compliant pairs {rate} ({pairs.compliant} of {pairs.total})" in everything
    pdf = pdfium.PdfDocument(data)
    for index in range(len(pdf)):
        image = pdf[index].render(scale=1).to_pil().convert("L")
        assert image.getextrema()[0] < 100  # something dark was drawn: text, tables, charts
        image.save(artifact(f"reports/pdf-{fleet}-page{index + 1}.png"))


def test_pdf_lists_failing_evidence_waivers_and_stale_devices() -> None:
    everything = " ".join(" ".join(pages_text(renderer_for("pdf").render(report_for("mixed")))).split())
    assert "no such table: windows_firewall_profiles" in everything
    assert "protection_status=0" in everything
    assert "Kiosk laptop, no patient data" in everything
    assert "expired, ended in window" in everything
    assert "dev-stale.practice.nhs.uk" in everything
    assert "re-enrolled 2026-03-13" in everything
    assert "Host firewall on <all profiles>" in everything


def test_pdf_is_byte_identical_sealed_and_checkable_against_its_json() -> None:
    report = report_for("mixed")
    data = renderer_for("pdf").render(report)
    assert data == renderer_for("pdf").render(report)
    assert verify_bytes(data).ok
    assert verify_bytes(data, against=renderer_for("json").render(report)).ok
    changed = bytearray(data)
    changed[len(changed) // 2] ^= 0x01
    assert not verify_bytes(bytes(changed)).ok
