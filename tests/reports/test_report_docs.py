"""The documented formats are the real ones: the committed schema and the CSV column table."""

from __future__ import annotations

import json
import re
from pathlib import Path

from collector.reports.render.csv_format import COLUMNS
from collector.reports.schema import report_schema_text

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_committed_json_schema_is_generated_from_the_model() -> None:
    committed = (DOCS / "reference" / "compliance-report.schema.json").read_text(encoding="utf-8")
    assert committed == report_schema_text(), (
        "regenerate: python -m collector.reports.schema > docs/reference/compliance-report.schema.json"
    )
    assert json.loads(committed)["properties"]["schema"]["const"] == "fleetward.compliance-report/v1"


def test_csv_columns_are_documented_in_order() -> None:
    text = (DOCS / "reference" / "report-formats.md").read_text(encoding="utf-8")
    section = text.split("## CSV", 1)[1].split("\n## ", 1)[0]
    documented = re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE)
    assert documented == list(COLUMNS)


def test_auditors_guide_recipe_names_every_status() -> None:
    guide = (DOCS / "auditors.md").read_text(encoding="utf-8")
    for status in ("pass", "not_applicable", "waived", "in_grace", "fail", "error", "stale"):
        assert f"| `{status}` |" in guide
