"""PDF: the HTML report's content on A4 pages, drawn with fpdf2.

Charts are PNG from matplotlib; text uses matplotlib's bundled DejaVu fonts (any language in
hostnames or justifications). Every page's footer carries the report digest and the page
number. Long listings (pairs needing attention, devices) stop after `LISTING_CAP` rows with a
note: the PDF is for reading and filing, the CSV and JSON hold every row. The creation date is
the report's `generated_at`, so the same report gives the same bytes; the file is sealed like
the others (the seal sits in the document's keywords).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from collector.domain.state import AuditStatus
from collector.reports.render import charts
from collector.reports.render.html_format import ATTENTION
from collector.reports.render.text import (
    CONTROLS_NOTE,
    RATES_NOTE,
    Omitted,
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
    from collector.reports.model import ComplianceReport

LISTING_CAP = 500
_FONT = "DejaVu"


def _when(value: Any) -> str:
    return iso(value).replace("T", " ").replace("Z", " UTC") if value else ""


def _font_dir() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


class _Document:
    def __init__(self, report: ComplianceReport) -> None:
        from fpdf import FPDF

        digest = report.digest

        class Pdf(FPDF):
            def footer(self) -> None:
                self.set_y(-12)
                self.set_font(_FONT, size=7)
                self.set_text_color(90, 90, 90)
                self.cell(0, 5, f"fleetward compliance report · {digest}", align="L")
                self.set_x(-40)
                self.cell(28, 5, f"page {self.page_no()} of {{nb}}", align="R")

        pdf = Pdf(orientation="portrait", unit="mm", format="A4")
        fonts = _font_dir()
        pdf.add_font(_FONT, "", str(fonts / "DejaVuSans.ttf"))
        pdf.add_font(_FONT, "B", str(fonts / "DejaVuSans-Bold.ttf"))
        pdf.set_auto_page_break(auto=True, margin=16)
        pdf.set_margins(12, 12, 12)
        pdf.set_creation_date(report.generated_at)
        pdf.set_title(f"Compliance report {_when(report.scope.at)}")
        pdf.set_author("fleetward")
        pdf.set_creator("fleetward")
        pdf.set_producer("fleetward (fpdf2)")
        pdf.set_subject(f"fleetward-report-digest: {digest}")
        pdf.set_keywords(f"{SEAL_PLACEHOLDER.decode()} {SIGNATURE_PLACEHOLDER.decode()}")
        pdf.alias_nb_pages()
        pdf.add_page()
        self.pdf = pdf

    def heading(self, text: str, size: int = 13) -> None:
        pdf = self.pdf
        if pdf.get_y() > 250:
            pdf.add_page()
        pdf.ln(3)
        pdf.set_font(_FONT, "B", size)
        pdf.cell(0, 8, text, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(_FONT, size=8)

    def note(self, text: str) -> None:
        self.pdf.set_font(_FONT, size=8)
        self.pdf.set_text_color(70, 70, 70)
        self.pdf.multi_cell(0, 4, text, new_x="LMARGIN", new_y="NEXT")
        self.pdf.set_text_color(0, 0, 0)

    def table(self, header: Sequence[str], rows: Sequence[Sequence[str]], widths: Sequence[float]) -> None:
        pdf = self.pdf
        pdf.set_font(_FONT, size=7)
        with pdf.table(
            col_widths=tuple(widths),
            line_height=3.6,
            padding=0.8,
            repeat_headings=1,
            headings_style=_heading_style(),
            text_align="LEFT",
        ) as table:
            table.row(list(header))
            for row in rows:
                table.row([str(cell) for cell in row])
        pdf.ln(2)

    def image(self, png: bytes, width: float) -> None:
        self.pdf.image(io.BytesIO(png), w=width)
        self.pdf.ln(1)


def _heading_style() -> Any:
    from fpdf.fonts import FontFace

    return FontFace(emphasis="BOLD", fill_color=(235, 235, 235))


def _capped(rows: list[list[str]], doc: _Document, what: str) -> list[list[str]]:
    if len(rows) > LISTING_CAP:
        doc.note(
            f"The first {LISTING_CAP} of {len(rows)} {what} are listed; the CSV and JSON reports list all."
        )
        return rows[:LISTING_CAP]
    return rows


class PdfRenderer:
    media_type = "application/pdf"
    extension = "pdf"

    def render(self, report: ComplianceReport) -> bytes:
        return self.render_bounded(report, None)

    def render_bounded(self, report: ComplianceReport, omitted: Omitted | None) -> bytes:
        """`omitted`: what a bounded report counts instead of listing (stated on the front page)."""
        doc = _Document(report)
        _front(doc, report)
        if omitted is not None:
            doc.note(omitted.sentence())
        _policies(doc, report)
        _findings(doc, report)
        _inventory(doc, report)
        return seal(bytes(doc.pdf.output()))


def _front(doc: _Document, report: ComplianceReport) -> None:
    pdf, scope, summary = doc.pdf, report.scope, report.summary
    pdf.set_font(_FONT, "B", 17)
    pdf.cell(0, 10, "Fleet compliance report", new_x="LMARGIN", new_y="NEXT")
    meta = [("Status at", _when(scope.at))]
    if scope.kind == "period":
        meta.append(("Period", f"{_when(scope.period_start)} to {_when(scope.at)}"))
    if scope.known_at is not None:
        meta.append(
            ("As known at", f"{_when(scope.known_at)} (only what the collector had received by then)")
        )
    meta += [
        ("Trend from", _when(scope.trend_start)),
        ("Framework", scope.framework or "all frameworks"),
        ("Generated at", _when(report.generated_at)),
        ("Generated from", report.source),
        ("Stale after", f"{duration(scope.validity)} without a report"),
        ("Schema", report.schema_id),
        ("Report digest", report.digest),
    ]
    doc.table(["", ""], meta, (35, 151))
    doc.heading("Summary")
    doc.table(
        ["Measure", "Value"],
        [
            [
                "Compliant pairs",
                f"{percent(summary.pairs)} ({summary.pairs.compliant} of {summary.pairs.total})",
            ],
            [
                "Fully compliant devices",
                f"{percent(summary.devices_compliant)} "
                f"({summary.devices_compliant.compliant} of {summary.devices})",
            ],
            [
                "Breaches of the remediation window",
                f"{summary.breaches} ({summary.ongoing_breaches} ongoing)",
            ],
            ["Devices", str(summary.devices)],
            ["Stale devices", str(summary.stale_devices)],
            ["Active waivers", f"{summary.active_waivers} ({summary.waivers_expiring_soon} expiring soon)"],
            *[[f"Pairs {s.value}", str(summary.status_counts[s])] for s in AuditStatus],
        ],
        (80, 106),
    )
    doc.note(RATES_NOTE)
    for b in report.baselines:
        if b.state in ("due", "stale"):
            doc.note(f"Baseline {b.name} is {b.state}: {b.message}")
    doc.image(charts.trend_chart(report.trend, "png"), 186)
    doc.image(charts.status_chart(summary.status_counts, "png"), 95)


def _policies(doc: _Document, report: ComplianceReport) -> None:
    doc.heading("Policies")
    doc.image(charts.policy_chart(report.policies, "png"), 186)
    doc.table(
        [
            "Policy",
            "Severity",
            "Controls",
            "Grace",
            "Compliant",
            "fail",
            "error",
            "stale",
            "in_grace",
            "waived",
        ],
        [
            [
                f"{p.id}\n{p.title}",
                p.severity,
                controls_label(p),
                duration(p.grace),
                percent(p.pairs),
                *(
                    str(p.status_counts[s])
                    for s in (
                        AuditStatus.FAIL,
                        AuditStatus.ERROR,
                        AuditStatus.STALE,
                        AuditStatus.IN_GRACE,
                        AuditStatus.WAIVED,
                    )
                ),
            ]
            for p in report.policies
        ],
        (42, 15, 33, 15, 17, 11, 11, 12, 16, 14),
    )
    doc.heading("Framework controls")
    doc.note(CONTROLS_NOTE)
    doc.table(
        ["Framework", "Control", "Evidenced by", "Devices meeting", "Rate"],
        [
            [
                c.framework_title,
                f"{c.control} {c.control_title}",
                ", ".join(c.policy_ids) or "no policy",
                f"{c.devices.compliant} of {c.devices.total}",
                percent(c.devices),
            ]
            for c in report.controls
        ],
        (32, 62, 46, 26, 20),
    )
    doc.heading("Platforms")
    doc.table(
        ["Platform", "Devices compliant", "Pairs compliant"],
        [
            [
                r.platform.value,
                f"{r.devices.compliant} of {r.devices.total} ({percent(r.devices)})",
                percent(r.pairs),
            ]
            for r in report.platforms
        ],
        (40, 80, 66),
    )
    doc.heading("Practices")
    doc.table(
        ["Practice", "Devices compliant", "Pairs compliant", "Breaches", "Stale devices"],
        [
            [
                r.practice or "no practice",
                f"{r.devices.compliant} of {r.devices.total} ({percent(r.devices)})",
                percent(r.pairs),
                f"{r.breaches} ({r.ongoing_breaches} ongoing)",
                ", ".join(r.stale_devices) or "none",
            ]
            for r in report.practices
        ],
        (28, 40, 28, 30, 60),
    )


def _findings(doc: _Document, report: ComplianceReport) -> None:
    hostnames = {d.device_id: d.hostname for d in report.devices}
    doc.heading("Breaches of the remediation window")
    rows = [
        [
            hostnames[b.device_id],
            b.policy_id,
            _when(b.failing_since),
            duration(b.grace),
            _when(b.breached_at),
            days(b.days_beyond_grace),
            "yes" if b.ongoing else "no",
        ]
        for b in report.breaches
    ]
    if rows:
        doc.table(
            ["Device", "Policy", "Failing since", "Grace", "Breached at", "Days beyond", "Ongoing"],
            _capped(rows, doc, "breaches"),
            (38, 30, 30, 14, 30, 22, 22),
        )
    else:
        doc.note("No breaches.")
    doc.heading("Pairs needing attention")
    doc.note(
        "Every pair in fail, error, in_grace or waived, with its evidence; the CSV and JSON list every pair."
    )
    waivers = {w.id: w for w in report.waivers}
    rows = []
    for p in report.pairs:
        if p.status not in ATTENTION:
            continue
        detail = evidence_summary(p.evidence, limit=400)
        if p.error:
            detail = f"osquery error: {p.error}"
        if p.waiver_id:
            w = waivers[p.waiver_id]
            detail = (
                f"waiver {w.id}: {w.justification} (owner {w.owner}, expires {_when(w.expires_at)}) {detail}"
            )
        rows.append(
            [
                hostnames[p.device_id],
                p.policy_id,
                p.status.value,
                _when(p.failing_since),
                days(p.days_out_of_compliance),
                detail,
            ]
        )
    if rows:
        doc.table(
            ["Device", "Policy", "Status", "Failing since", "Days", "Evidence or waiver"],
            _capped(rows, doc, "pairs needing attention"),
            (34, 28, 15, 27, 12, 70),
        )
    else:
        doc.note("No pair needs attention.")
    doc.heading("Evidence for passes")
    doc.note(
        "What osquery answered for each passing pair, as the agent sent it; the CSV and JSON hold every row."
    )
    rows = [
        [hostnames[p.device_id], p.policy_id, evidence_summary(p.evidence, limit=400)]
        for p in report.pairs
        if p.status is AuditStatus.PASS and p.evidence
    ]
    if rows:
        doc.table(
            ["Device", "Policy", "Evidence"], _capped(rows, doc, "passing pairs with evidence"), (34, 40, 112)
        )
    else:
        doc.note("No passing pair carries evidence.")
    doc.heading("Late observations")
    doc.note(
        "Reports observed in the window that arrived after a later observation of their pairs; placed at "
        f"their observed time, they changed the recorded past ({report.summary.late_observations} results)."
    )
    rows = [
        [v.hostname, _when(v.observed_at), _when(v.received_at), str(v.late_results)]
        for v in report.late_observations
    ]
    if rows:
        doc.table(
            ["Device", "Observed", "Received", "Late results"],
            _capped(rows, doc, "late reports"),
            (60, 50, 50, 26),
        )
    else:
        doc.note("No late observations.")
    doc.heading("Stale devices")
    rows = [[s.hostname, _when(s.last_seen) or "never", days(s.days_silent)] for s in report.stale_devices]
    if rows:
        doc.table(["Device", "Last report", "Days silent"], _capped(rows, doc, "stale devices"), (80, 66, 40))
    else:
        doc.note("No stale devices.")
    doc.heading("Waivers")
    rows = [
        [
            w.id,
            w.policy_id,
            f"device {hostnames.get(w.device_id, w.device_id)}" if w.device_id else f"practice {w.practice}",
            w.justification,
            w.owner,
            _when(w.expires_at),
            w.state
            + (", ended in window" if w.ended_in_window else "")
            + (", expiring soon" if w.expiring_soon else ""),
        ]
        for w in report.waivers
    ]
    if rows:
        doc.table(
            ["Waiver", "Policy", "Applies to", "Justification", "Owner", "Expires", "State"],
            rows,
            (18, 24, 30, 44, 24, 24, 22),
        )
    else:
        doc.note("No waivers.")


def _inventory(doc: _Document, report: ComplianceReport) -> None:
    doc.heading("Devices")
    rows = [
        [
            d.hostname,
            d.platform.value,
            d.practice or "",
            f"{d.os_name} {d.os_version}",
            _when(d.enrolled_at)
            + (f"\nre-enrolled {_when(d.last_enrolled_at)}" if d.last_enrolled_at else ""),
            _when(d.last_seen) or "never",
            d.status.value if d.status else "",
        ]
        for d in report.devices
    ]
    doc.table(
        ["Device", "Platform", "Practice", "OS", "Enrolled", "Last report", "Worst status"],
        _capped(rows, doc, "devices"),
        (40, 16, 18, 28, 30, 30, 24),
    )
    doc.heading("Policy versions and baselines in force")
    doc.table(
        ["Policy", "Version", "Baseline", "Pairs on other versions"],
        [[p.id, p.version, p.baseline or "", str(p.pairs_on_other_versions)] for p in report.policies],
        (60, 50, 46, 30),
    )
    if report.baselines:
        doc.table(
            ["Baseline", "Refreshed", "Newest floor", "State", "Sources"],
            [
                [
                    b.name,
                    b.refreshed.isoformat(),
                    b.newest_floor.isoformat() if b.newest_floor else "none",
                    b.state,
                    ", ".join(sorted(b.sources)),
                ]
                for b in report.baselines
            ],
            (30, 28, 28, 22, 78),
        )
    if report.bundles:
        doc.table(
            ["Bundle", "Digest", "Published", "In force"],
            [
                [str(b.version), b.digest, _when(b.published_at), "yes" if b.in_force else ""]
                for b in report.bundles
            ],
            (16, 110, 40, 20),
        )
    doc.heading("Checking this report", 11)
    doc.note(
        "The digest in every footer is the SHA-256 of the canonical JSON of this report. Run "
        "`fleetward report verify THIS_FILE --against REPORT.json` to check this copy against the JSON report; "
        "see the auditor's guide (docs/auditors.md)."
    )


RENDERER = PdfRenderer()
