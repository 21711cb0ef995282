"""CSV: one row per (device, policy) pair, with the fixed columns below (RFC 4180, UTF-8, CRLF).

After the rows come two comment lines an auditor's tools can skip (`#`):
    # fleetward-report-digest: sha256:<the JSON report's digest>
    # fleetward-seal:sha256:<SHA-256 of this file with the seal's 64 hex digits as zeros>
Cells that a spreadsheet would run as a formula (starting = + - @ tab or CR) get a leading `'`.
"""

from __future__ import annotations

import csv
import io

from collector.reports.model import ComplianceReport, DeviceView, PairView, PolicyView, WaiverView
from collector.reports.render.text import controls_label, days, evidence_summary, iso
from collector.reports.seal import SEAL_PLACEHOLDER, seal

COLUMNS = (
    "device_id",
    "hostname",
    "platform",
    "practice",
    "policy_id",
    "policy_title",
    "framework_controls",
    "status",
    "observed",
    "since",
    "last_seen",
    "failing_since",
    "days_out_of_compliance",
    "waiver_id",
    "waiver_owner",
    "waiver_expires_at",
    "waiver_justification",
    "evidence_summary",
    "error",
    "policy_version",
    "current_version",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


class CsvRenderer:
    media_type = "text/csv; charset=utf-8"
    extension = "csv"

    def render(self, report: ComplianceReport) -> bytes:
        devices = {d.device_id: d for d in report.devices}
        policies = {p.id: p for p in report.policies}
        waivers = {w.id: w for w in report.waivers}
        labels = {p.id: controls_label(p) for p in report.policies}
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(COLUMNS)
        for pair in report.pairs:
            writer.writerow(
                [
                    _cell(v)
                    for v in _row(pair, devices[pair.device_id], policies[pair.policy_id], labels, waivers)
                ]
            )
        for v in report.late_observations:  # reports that changed the recorded past
            buffer.write(
                f"# late observation: {v.hostname} observed {iso(v.observed_at)} received {iso(v.received_at)}, "
                f"{v.late_results} result(s)\r\n"
            )
        for b in report.baselines:  # where the patch floors come from, and whether they cover the instant
            newest = b.newest_floor.isoformat() if b.newest_floor else "none"
            line = f"# baseline {b.name}: {b.state}; refreshed {b.refreshed}, newest floor {newest}, "
            line += f"sources {', '.join(sorted(b.sources))}" + (f"; {b.message}" if b.state in _WARN else "")
            buffer.write(line.replace("\r", " ").replace("\n", " ") + "\r\n")
        buffer.write(f"# fleetward-report-digest: {report.digest}\r\n")
        buffer.write("# " + SEAL_PLACEHOLDER.decode() + "\r\n")
        return seal(buffer.getvalue().encode("utf-8"))


_WARN = ("due", "stale")


def _row(
    pair: PairView,
    device: DeviceView,
    policy: PolicyView,
    labels: dict[str, str],
    waivers: dict[str, WaiverView],
) -> list[str]:
    waiver = waivers.get(pair.waiver_id) if pair.waiver_id else None
    return [
        pair.device_id,
        device.hostname,
        device.platform.value,
        device.practice or "",
        pair.policy_id,
        policy.title,
        labels[pair.policy_id],
        pair.status.value,
        pair.observed or "",
        iso(pair.since),
        iso(pair.last_seen),
        iso(pair.failing_since),
        days(pair.days_out_of_compliance),
        pair.waiver_id or "",
        waiver.owner if waiver else "",
        iso(waiver.expires_at if waiver else None),
        waiver.justification if waiver else "",
        evidence_summary(pair.evidence),
        pair.error or "",
        pair.policy_version or "",
        "yes" if pair.current_version else "no",
    ]


RENDERER = CsvRenderer()
