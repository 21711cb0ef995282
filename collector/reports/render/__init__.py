"""Renderers: one interface, one module per format, heavy libraries imported only when used.

    renderer_for("html").render(report) -> bytes

Every renderer is deterministic: the same report gives the same bytes (charts included).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Protocol

from collector.reports.errors import ReportInputError

if TYPE_CHECKING:
    from collector.reports.model import ComplianceReport

FORMATS = ("html", "csv", "json", "pdf")


class Renderer(Protocol):
    media_type: str
    extension: str

    def render(self, report: ComplianceReport) -> bytes: ...


_MODULES = {
    "json": "collector.reports.render.json_format",
    "csv": "collector.reports.render.csv_format",
    "html": "collector.reports.render.html_format",
    "pdf": "collector.reports.render.pdf_format",
}


def renderer_for(fmt: str) -> Renderer:
    module_name = _MODULES.get(fmt)
    if module_name is None:
        raise ReportInputError(f"unknown report format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    renderer: Renderer = importlib.import_module(module_name).RENDERER
    return renderer
