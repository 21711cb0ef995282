"""JSON and CSV: byte-identical for the same data, documented columns, digests an auditor can check."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable

import pytest

from collector.domain.fleet import FleetHistory
from collector.reports.build import build_report
from collector.reports.canonical import canonical_bytes
from collector.reports.model import ComplianceReport
from collector.reports.render import renderer_for
from collector.reports.render.csv_format import COLUMNS
from collector.reports.verify import verify_bytes
from fleetward.policy.verdict import Status
from tests.reports.factory import AT, DAY, START, FleetBuilder, all_stale_fleet, empty_fleet, mixed_fleet

FLEETS: dict[str, Callable[[], FleetHistory]] = {
    "mixed": mixed_fleet,
    "empty": empty_fleet,
    "all-stale": all_stale_fleet,
}


def report_of(history: FleetHistory, **kwargs: object) -> ComplianceReport:
    options: dict[str, object] = {"at": AT, "period": None, "framework": None}
    options.update(kwargs)
    return build_report(history, generated_at=AT + DAY, source="sqlite:///fleet.db", **options)  # type: ignore[arg-type]


def csv_rows(data: bytes) -> list[dict[str, str]]:
    lines = [line for line in data.decode("utf-8").splitlines(keepends=True) if not line.startswith("#")]
    return list(csv.DictReader(io.StringIO("".join(lines))))


@pytest.mark.parametrize("fleet", FLEETS)
@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_same_data_gives_byte_identical_files(fleet: str, fmt: str) -> None:
    first = renderer_for(fmt).render(report_of(FLEETS[fleet]()))
    second = renderer_for(fmt).render(report_of(FLEETS[fleet]()))
    assert first == second


@pytest.mark.parametrize("fleet", FLEETS)
def test_json_is_the_canonical_form_and_its_digest_is_sha256_of_the_body(fleet: str) -> None:
    data = renderer_for("json").render(report_of(FLEETS[fleet]()))
    document = json.loads(data)
    assert canonical_bytes(document) == data
    body = {k: v for k, v in document.items() if k != "digest"}
    # The auditor's recipe from docs/auditors.md, written out with the standard library only.
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert document["digest"] == "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert verify_bytes(data).ok


@pytest.mark.parametrize("fleet", FLEETS)
def test_csv_has_the_documented_columns_and_one_row_per_pair(fleet: str) -> None:
    report = report_of(FLEETS[fleet]())
    data = renderer_for("csv").render(report)
    header = data.decode().splitlines()[0]
    assert header.split(",") == list(COLUMNS)
    rows = csv_rows(data)
    assert [(r["device_id"], r["policy_id"]) for r in rows] == [
        (p.device_id, p.policy_id) for p in report.pairs
    ]
    assert data.decode().splitlines()[-2] == f"# fleetward-report-digest: {report.digest}"
    assert verify_bytes(data).ok


def test_csv_rows_carry_status_days_waiver_and_evidence() -> None:
    rows = {
        (r["device_id"], r["policy_id"]): r
        for r in csv_rows(renderer_for("csv").render(report_of(mixed_fleet())))
    }
    failing = rows[("dev-fail", "encryption-disk")]
    assert failing["status"] == "fail"
    assert failing["failing_since"] == "2026-03-06T00:00:00Z"
    assert failing["days_out_of_compliance"] == "25.50"
    assert (
        failing["evidence_summary"] == "compliant=0 conversion_status=0 drive_letter=C: protection_status=0"
    )
    assert failing["framework_controls"] == "cis-controls-v8:3.6; dspt:9.5.2"
    waived = rows[("dev-waived", "encryption-disk")]
    assert (waived["status"], waived["waiver_id"], waived["waiver_owner"]) == (
        "waived",
        "w-device",
        "Dr A. Practice Manager",
    )
    assert waived["waiver_expires_at"] == "2026-05-30T12:00:00Z"
    assert rows[("dev-fail", "firewall-on")]["error"] == "no such table: windows_firewall_profiles"
    assert rows[("dev-reenrolled", "firewall-on")]["current_version"] == "no"


def test_csv_cells_that_spreadsheets_would_run_are_neutralised() -> None:
    fleet = FleetBuilder()
    fleet.device("=HYPERLINK(evil)")
    report = report_of(fleet.history())
    rows = csv_rows(renderer_for("csv").render(report))
    assert rows
    assert all(r["device_id"] == "'=HYPERLINK(evil)" for r in rows)


@pytest.mark.parametrize("position", [0.0, 0.1, 0.37, 0.5, 0.73, 0.999])
@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_changing_any_one_byte_fails_verification(fmt: str, position: float) -> None:
    data = bytearray(renderer_for(fmt).render(report_of(mixed_fleet())))
    index = int(position * (len(data) - 1))
    data[index] = ord("x") if data[index] != ord("x") else ord("y")
    assert not verify_bytes(bytes(data)).ok


def test_json_with_edited_content_and_recomputed_layout_still_fails_on_digest() -> None:
    document = json.loads(renderer_for("json").render(report_of(mixed_fleet())))
    document["summary"]["pairs"]["compliant"] += 1
    result = verify_bytes(canonical_bytes(document))
    assert [c.name for c in result.checks if not c.ok] == ["digest"]


def test_csv_checked_against_its_json_report() -> None:
    report = report_of(mixed_fleet())
    as_json, as_csv = renderer_for("json").render(report), renderer_for("csv").render(report)
    assert verify_bytes(as_csv, against=as_json).ok
    other = renderer_for("json").render(report_of(mixed_fleet(), at=AT - DAY))
    result = verify_bytes(as_csv, against=other)
    assert not result.ok
    assert any(c.name == "same report" and not c.ok for c in result.checks)


def test_a_period_report_states_its_period_and_trend() -> None:
    report = report_of(mixed_fleet(), at=None, period=(START, AT))
    assert report.scope.kind == "period"
    assert report.scope.period_start == START
    assert report.trend[0].day == START.date()
    assert report.trend[-1].at == AT


def test_long_lists_are_serialized_in_chunks_to_the_same_canonical_bytes() -> None:
    fleet = FleetBuilder()
    for index in range(7_000):  # 21,000 pairs: more than one serialization chunk
        device = fleet.device(f"dev-{index:05d}")
        for policy in fleet.policies:
            fleet.run(device, policy, Status.PASS if index % 7 else Status.FAIL, START - 10 * DAY)
    report = report_of(fleet.history())
    data = renderer_for("json").render(report)
    assert len(report.pairs) == 21_000
    assert canonical_bytes(json.loads(data)) == data
    assert verify_bytes(data).ok
