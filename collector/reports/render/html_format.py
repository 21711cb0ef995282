"""HTML: one self-contained file (inline CSS, charts as inline SVG, no script, no external URL)
that opens offline and prints to A4.

What it holds: every summary and roll-up, every breach, stale device, waiver and policy version,
each device with its worst status, and the pairs that need attention (fail, error, in_grace,
waived) with their evidence. Passing, not-applicable and stale pairs are counted, not listed one
by one: at 100,000 devices x 15 policies that table alone would be 1.5 million rows. The CSV and
JSON formats list every pair. A bounded report (`render_bounded`, above 5,000 devices) lists
only the devices that are not compliant, were in breach or hold a waiver, and says what it counted.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING

from collector.domain.state import AuditStatus
from collector.reports.render import charts
from collector.reports.render.text import (
    CONTROLS_NOTE,
    RATES_NOTE,
    controls_label,
    days,
    duration,
    evidence_summary,
    iso,
    percent,
)
from collector.reports.seal import SEAL_PLACEHOLDER, seal
from collector.reports.signing import SIGNATURE_PLACEHOLDER

if TYPE_CHECKING:
    from jinja2 import Environment

    from collector.reports.model import ComplianceReport
    from collector.reports.render.text import Omitted

ATTENTION = (AuditStatus.FAIL, AuditStatus.ERROR, AuditStatus.IN_GRACE, AuditStatus.WAIVED)


@cache
def report_environment() -> Environment:
    """The Jinja2 environment of the report templates: autoescaped, strict about undefined names."""
    return template_environment("collector.reports")


def template_environment(package: str) -> Environment:
    """Jinja2 for a package's `templates/`: autoescaped, strict, with the report filters (also the UI's)."""
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=PackageLoader(package, "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(FILTERS)
    return env


def _when(value: datetime | None) -> str:
    return iso(value).replace("T", " ").replace("Z", " UTC") if value else ""


FILTERS: dict[str, Callable[..., str]] = {
    "iso": iso,
    "when": _when,
    "percent": percent,
    "days": days,
    "duration": duration,
    "evidence_summary": evidence_summary,
    "controls_label": controls_label,
}


class HtmlRenderer:
    media_type = "text/html; charset=utf-8"
    extension = "html"

    def render(self, report: ComplianceReport) -> bytes:
        return self.render_bounded(report, None)

    def render_bounded(self, report: ComplianceReport, omitted: Omitted | None) -> bytes:
        from markupsafe import Markup

        svg = {
            "trend": charts.inline_svg(charts.trend_chart(report.trend, "svg"), "trend-"),
            "status": charts.inline_svg(charts.status_chart(report.summary.status_counts, "svg"), "status-"),
            "policies": charts.inline_svg(charts.policy_chart(report.policies, "svg"), "policies-"),
        }
        template = report_environment().get_template("report.html.j2")
        passes = [p for p in report.pairs if p.status is AuditStatus.PASS and p.evidence]
        html = template.render(
            report=report,
            charts={name: Markup(value) for name, value in svg.items()},  # noqa: S704 - drawn by matplotlib, text escaped
            attention=[p for p in report.pairs if p.status in ATTENTION],
            passes=passes,
            pass_total=len(passes) if omitted is None else omitted.passes_with_evidence,
            omitted=omitted,
            listing_cap=PASS_LISTING_CAP,
            hostnames={d.device_id: d.hostname for d in report.devices},
            titles={p.id: p.title for p in report.policies},
            waivers={w.id: w for w in report.waivers},
            statuses=list(AuditStatus),
            rates_note=RATES_NOTE,
            controls_note=CONTROLS_NOTE,
            seal_placeholder=SEAL_PLACEHOLDER.decode(),
            signature_placeholder=SIGNATURE_PLACEHOLDER.decode(),
        )
        return seal(html.encode("utf-8"))


PASS_LISTING_CAP = 2000  # passing pairs listed with their evidence; the CSV and JSON hold all

RENDERER = HtmlRenderer()
