"""Charts for the HTML (SVG) and PDF (PNG) reports and the dashboard, drawn with matplotlib.

Deterministic output: no dates or software versions in the metadata, a fixed `svg.hashsalt`
for element ids, text kept as text in SVG (searchable, selectable) and a fixed DPI for PNG.
matplotlib is imported here only, and only when a chart is drawn; the Figure API is used
directly (no pyplot), so nothing global is touched.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Literal, cast

from collector.domain.state import SEVERITY_ORDER, AuditStatus

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from collector.reports.model import PolicyView, TrendPoint

Kind = Literal["svg", "png"]

STATUS_COLOURS: dict[AuditStatus, str] = {
    AuditStatus.FAIL: "#b3261e",
    AuditStatus.ERROR: "#7d3c98",
    AuditStatus.STALE: "#6b6b6b",
    AuditStatus.IN_GRACE: "#d68910",
    AuditStatus.WAIVED: "#2471a3",
    AuditStatus.PASS: "#1e8449",
    AuditStatus.NOT_APPLICABLE: "#aab7b8",
}
_RC = {
    "svg.hashsalt": "fleetward",
    "svg.fonttype": "none",
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
_PNG_DPI = 150


def _style() -> AbstractContextManager[None]:
    import matplotlib

    return matplotlib.rc_context(cast(Any, _RC))


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _save(figure: Figure, kind: Kind) -> bytes:
    buffer = io.BytesIO()
    with _style():
        if kind == "svg":
            figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
        else:
            figure.savefig(buffer, format="png", dpi=_PNG_DPI, metadata={"Software": None})
    return buffer.getvalue()


def inline_svg(svg: bytes, prefix: str) -> str:
    """The <svg> element alone for embedding in HTML (no XML declaration or DOCTYPE), its ids
    prefixed so several charts can share one page."""
    text = svg.decode("utf-8")
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text[text.index("<svg") :], count=1, flags=re.S)
    # Namespace names look like links to a reader checking for external URLs; HTML does not need them.
    text = re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", text)
    return prefix_svg_ids(text, prefix)


def trend_chart(points: Sequence[TrendPoint], kind: Kind) -> bytes:
    """Compliance rate per day, with the count of non-compliant pairs beneath it."""
    with _style():
        figure = _figure(7.2, 2.6)
        axes = figure.add_subplot()
        days = [p.day for p in points]
        rates = [None if p.pairs.rate is None else p.pairs.rate * 100 for p in points]
        axes.plot(
            cast(Any, days),
            [r if r is not None else float("nan") for r in rates],
            color="#1e8449",
            marker="o",
            markersize=2.5,
            linewidth=1.6,
            label="compliant pairs (%)",
        )
        axes.set_ylim(0, 100)
        axes.set_ylabel("compliant pairs (%)")
        axes.grid(axis="y", color="#dddddd", linewidth=0.6)
        axes.set_title("Fleet compliance rate per day (UTC)", loc="left")
        figure.autofmt_xdate()
        if not points:
            axes.text(0.5, 0.5, "no data", transform=axes.transAxes, ha="center")
        return _save(figure, kind)


def policy_chart(policies: Sequence[PolicyView], kind: Kind) -> bytes:
    """Stacked status counts per policy: which policies hold the fleet back."""
    with _style():
        figure = _figure(7.2, max(1.6, 0.32 * len(policies) + 0.9))
        axes = figure.add_subplot()
        names = [_short(p.id) for p in policies]
        left = [0] * len(policies)
        for status in reversed(SEVERITY_ORDER):
            values = [p.status_counts.get(status, 0) for p in policies]
            axes.barh(names, values, left=left, color=STATUS_COLOURS[status], label=status.value, height=0.7)
            left = [a + b for a, b in zip(left, values, strict=True)]
        axes.invert_yaxis()
        axes.set_xlabel("pairs")
        axes.set_title("Status of each policy's pairs", loc="left")
        axes.legend(ncols=4, fontsize=7, loc="lower right", frameon=False, bbox_to_anchor=(1, 1.02))
        return _save(figure, kind)


def status_chart(counts: dict[AuditStatus, int], kind: Kind) -> bytes:
    """How many pairs are in each status, worst first."""
    with _style():
        figure = _figure(3.6, 2.4)
        axes = figure.add_subplot()
        labels = [s.value for s in SEVERITY_ORDER]
        values = [counts.get(s, 0) for s in SEVERITY_ORDER]
        bars = axes.bar(labels, values, color=[STATUS_COLOURS[s] for s in SEVERITY_ORDER])
        axes.bar_label(bars, fontsize=7)
        axes.tick_params(axis="x", labelrotation=30, labelsize=7)
        axes.set_title("Pairs by status", loc="left")
        return _save(figure, kind)


def _short(text: str, limit: int = 38) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def prefix_svg_ids(svg: str, prefix: str) -> str:
    """Element ids given a per-chart prefix, so several inline SVGs can share one page."""
    return re.sub(r'(id="|url\(#|href="#)([A-Za-z0-9_]+)', lambda m: m.group(1) + prefix + m.group(2), svg)
