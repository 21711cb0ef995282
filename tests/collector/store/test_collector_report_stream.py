"""Streamed reports (collector.reports.stream over collector.store.report_rows) are byte for byte
the reports `build_report` gives from `load_history` on the same database, signed the same way:
every format, instant and period reports, SQLite and PostgreSQL. Above the detail limit an HTML
or PDF report is bounded: it names the same digest, lists every pair needing attention and says
what it counted instead of listing."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from collector.domain.state import DEFAULT_VALIDITY, AuditStatus
from collector.reports.build import build_report
from collector.reports.signing import render_signed
from collector.reports.stream import ReportRequest, stream_report
from collector.reports.verify import verify_bytes
from collector.store import Database
from collector.store.history import load_history
from collector.store.report_rows import device_pages, report_context
from fleetward.bundle.keys import SigningKey
from tests.collector.conftest import START
from tests.collector.store.test_collector_fleet_state_sql import _build_fleet

KEY = SigningKey.generate()
GENERATED = START + timedelta(days=200)


def _streamed(db: Database, fmt: str, *, detail_limit: int = 5000, **scope: object) -> bytes:
    with db.read() as session:
        context = report_context(session, validity=DEFAULT_VALIDITY)
        request = ReportRequest(
            context=context,
            generated_at=GENERATED,
            source="test",
            key=KEY,
            devices=12,
            detail_limit=detail_limit,
            **scope,  # type: ignore[arg-type]
        )
        pages: Iterator = device_pages(session, validity=DEFAULT_VALIDITY, page=5)  # several pages
        return b"".join(stream_report(fmt, request, pages))


def _pure(db: Database, fmt: str, **scope: object) -> bytes:
    report = build_report(
        load_history(db.engine),
        generated_at=GENERATED,
        source="test",
        **scope,  # type: ignore[arg-type]
    )
    return render_signed(report, fmt, KEY)


SCOPES = [
    {"at": START + timedelta(days=40), "period": None, "framework": None},
    {"at": START + timedelta(days=75, hours=5), "period": None, "framework": "dspt"},
    {"at": None, "period": (START + timedelta(days=10), START + timedelta(days=100)), "framework": None},
]


@pytest.mark.parametrize("fmt", ["json", "csv", "html", "pdf"])
def test_streamed_reports_equal_the_pure_reports_byte_for_byte(db: Database, fmt: str) -> None:
    _build_fleet(db, 4)
    for scope in SCOPES:
        expected = _pure(db, fmt, **scope)
        assert _streamed(db, fmt, **scope) == expected, scope
    report = json.loads(_streamed(db, "json", **SCOPES[0]))
    statuses = {p["status"] for p in report["pairs"]}
    assert {"pass", "fail", "stale"} <= statuses
    assert report["summary"]["devices"] == 12


def test_a_streamed_csv_verifies_against_the_streamed_json(db: Database, tmp_path: object) -> None:
    _build_fleet(db, 5)
    csv_bytes, json_bytes = (_streamed(db, fmt, **SCOPES[0]) for fmt in ("csv", "json"))
    result = verify_bytes(csv_bytes, json_bytes, [KEY.public])
    assert result.ok, result.checks
    assert result.authenticity.startswith("authentic")


@pytest.mark.parametrize("fmt", ["html", "pdf"])
def test_a_bounded_report_lists_what_needs_attention_and_counts_the_rest(db: Database, fmt: str) -> None:
    _build_fleet(db, 6)
    scope = SCOPES[0]
    full = json.loads(_streamed(db, "json", **scope))
    bounded = _streamed(db, fmt, detail_limit=0, **scope)
    result = verify_bytes(bounded, None, [KEY.public])
    assert result.ok, result.checks
    assert result.report_digest == full["digest"]  # names the full report's digest
    assert bounded != _pure(db, fmt, **scope)
    if fmt == "pdf":
        return
    html = bounded.decode()
    assert "This report is summarised" in html
    attention = [p for p in full["pairs"] if p["status"] in ("fail", "error", "in_grace", "waived")]
    rows = re.search(r'<section id="attention">(.*?)</section>', html, re.S)
    assert rows is not None
    assert rows.group(1).count("<tr><td>") == len(attention) > 0
    listed = re.search(r'<section id="devices">(.*?)</section>', html, re.S)
    assert listed is not None
    noncompliant = [d for d in full["devices"] if not d["compliant"]]
    assert noncompliant
    assert all(d["device_id"] in listed.group(1) for d in noncompliant)
    passes = [p for p in full["pairs"] if p["status"] == AuditStatus.PASS.value and p["evidence"]]
    counted = len(full["pairs"]) - len(attention) - len(passes)
    assert counted > 0
    assert f"{counted:,} pairs in pass, not_applicable or stale are counted" in html


def test_closing_the_stream_stops_it_between_pages(db: Database) -> None:
    _build_fleet(db, 7)
    pages_read: list[datetime] = []
    with db.read() as session:
        context = report_context(session, validity=DEFAULT_VALIDITY)
        request = ReportRequest(context=context, generated_at=GENERATED, source="t", **SCOPES[0])  # type: ignore[arg-type]

        def pages() -> Iterator:
            for page in device_pages(session, validity=DEFAULT_VALIDITY, page=2):
                pages_read.append(GENERATED)
                yield page

        chunks = stream_report("csv", request, pages())
        next(chunks)  # the header and the first page
        chunks.close()
    assert len(pages_read) == 1  # 12 devices in pages of 2: the other five were never read
