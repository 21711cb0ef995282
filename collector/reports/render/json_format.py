"""JSON: the canonical JSON of the report itself (see collector.reports.canonical)."""

from __future__ import annotations

from collector.reports.canonical import report_json
from collector.reports.model import ComplianceReport


class JsonRenderer:
    media_type = "application/json"
    extension = "json"

    def render(self, report: ComplianceReport) -> bytes:
        return report_json(report)


RENDERER = JsonRenderer()
