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
    from collector.reports.render.text import Omitted

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


class BoundedRenderer(Renderer, Protocol):
    def render_bounded(self, report: ComplianceReport, omitted: Omitted) -> bytes:
        """`report` holds only the devices and pairs listed; `omitted` counts the rest."""
        ...


def bounded_renderer_for(fmt: str) -> BoundedRenderer:
    """The HTML or PDF renderer, which can render a bounded report (collector.reports.stream)."""
    if fmt not in ("html", "pdf"):
        raise ReportInputError(f"only html and pdf reports are bounded, not {fmt!r}")
    renderer: BoundedRenderer = importlib.import_module(_MODULES[fmt]).RENDERER
    return renderer


def renderer_for(fmt: str) -> Renderer:
    module_name = _MODULES.get(fmt)
    if module_name is None:
        raise ReportInputError(f"unknown report format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    renderer: Renderer = importlib.import_module(module_name).RENDERER
    return renderer
