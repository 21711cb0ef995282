"""CSV: one row per (device, policy) pair, with the fixed columns below (RFC 4180, UTF-8, CRLF).

After the rows come three comment lines an auditor's tools can skip (`#`):
    # fleetward-signature:ed25519:<key id>:<signature of the seal, zeros when unsigned>
    # fleetward-report-digest: sha256:<the JSON report's digest>
    # fleetward-seal:sha256:<SHA-256 of this file with the seal's 64 hex digits as zeros>
Cells that a spreadsheet would run as a formula (starting = + - @ tab or CR) get a leading `'`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

from collector.reports.model import ComplianceReport, DeviceView, PairView, PolicyView
from collector.reports.render.text import controls_label, days, evidence_summary, iso
from collector.reports.seal import SEAL_PLACEHOLDER, seal
from collector.reports.signing import SIGNATURE_PLACEHOLDER

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
        rows = CsvRows(report.policies, {w.id: w for w in report.waivers})
        text = rows.header() + "".join(rows.lines([p], devices[p.device_id]) for p in report.pairs)
        return seal((text + trailer(report)).encode("utf-8"))


class _WaiverText(Protocol):
    """A waiver's view or its record: what a row shows of it."""

    @property
    def owner(self) -> str: ...
    @property
    def expires_at(self) -> datetime: ...
    @property
    def justification(self) -> str: ...


class CsvRows:
    """The CSV text of pairs, a row at a time (also what a streamed report writes)."""

    def __init__(self, policies: Sequence[PolicyView], waivers: Mapping[str, _WaiverText]) -> None:
        self.policies = {p.id: p for p in policies}
        self.labels = {p.id: controls_label(p) for p in policies}
        self.waivers = waivers
        self.buffer = io.StringIO(newline="")
        self.writer = csv.writer(self.buffer, lineterminator="\r\n")

    def header(self) -> str:
        return self._take([COLUMNS])

    def lines(self, pairs: Sequence[PairView], device: DeviceView) -> str:
        """The rows of some of one device's pairs."""
        return self._take(
            [
                [_cell(v) for v in _row(p, device, self.policies[p.policy_id], self.labels, self.waivers)]
                for p in pairs
            ]
        )

    def _take(self, rows: list[Sequence[str]]) -> str:
        self.writer.writerows(rows)
        text = self.buffer.getvalue()
        self.buffer.seek(0)
        self.buffer.truncate()
        return text


def trailer(report: ComplianceReport) -> str:
    """The comment lines after the rows, with the signature and seal placeholders."""
    lines = []
    for v in report.late_observations:  # reports that changed the recorded past
        lines.append(
            f"# late observation: {v.hostname} observed {iso(v.observed_at)} received {iso(v.received_at)}, "
            f"{v.late_results} result(s)\r\n"
        )
    for b in report.baselines:  # where the patch floors come from, and whether they cover the instant
        newest = b.newest_floor.isoformat() if b.newest_floor else "none"
        line = f"# baseline {b.name}: {b.state}; refreshed {b.refreshed}, newest floor {newest}, "
        line += f"sources {', '.join(sorted(b.sources))}" + (f"; {b.message}" if b.state in _WARN else "")
        lines.append(line.replace("\r", " ").replace("\n", " ") + "\r\n")
    lines.append("# " + SIGNATURE_PLACEHOLDER.decode() + "\r\n")
    lines.append(f"# fleetward-report-digest: {report.digest}\r\n")
    lines.append("# " + SEAL_PLACEHOLDER.decode() + "\r\n")
    return "".join(lines)


_WARN = ("due", "stale")


def _row(
    pair: PairView,
    device: DeviceView,
    policy: PolicyView,
    labels: dict[str, str],
    waivers: Mapping[str, _WaiverText],
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
