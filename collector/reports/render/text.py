"""Text forms shared by the renderers, so a value reads the same in CSV, HTML and PDF."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from collector.reports.model import PolicyView, Rate

EVIDENCE_SUMMARY_MAX_CHARS = 300

# What each rate divides, in every format's words (docs/auditors.md, "How each number is computed").
RATES_NOTE = (
    "A pair is one device answering for one policy. Compliant: pass, waived, in_grace (and "
    "not_applicable, which counts neither way). Not compliant: fail, error, stale. Pair rate: compliant "
    "pairs divided by every pair except not_applicable ones; a policy's rate divides its own pairs the same "
    "way. Device rate: devices with no pair in fail, error or stale, divided by every device in the report."
)
CONTROLS_NOTE = (
    "A control counts a device when at least one policy evidencing it applies to the device's platform, and "
    "is met on it when every such pair is compliant; its rate is the devices meeting it divided by the "
    "devices it counts. A control no policy evidences is listed with no devices."
)


def iso(instant: datetime | None) -> str:
    if instant is None:
        return ""
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def percent(rate: Rate) -> str:
    return "n/a" if rate.rate is None else f"{rate.rate * 100:.1f}%"


def days(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def duration(delta: timedelta) -> str:
    """Grace as an auditor reads it: '14 days', '0 days', '36 hours'."""
    seconds = int(delta.total_seconds())
    if seconds % 86400 == 0:
        return f"{seconds // 86400} days"
    return f"{seconds / 3600:g} hours"


@dataclass(frozen=True)
class Omitted:
    """What a bounded HTML or PDF report counts instead of listing (collector.reports.stream)."""

    devices: int  # compliant devices with no pair needing attention, no breach and no waiver
    pairs: int  # pairs not needing attention (pass, not_applicable, stale) beyond those listed
    passes_with_evidence: int  # passing pairs with evidence, of which the first are listed

    def sentence(self) -> str:
        return (
            f"This report is summarised: {self.devices:,} compliant devices and {self.pairs:,} pairs in pass, "
            "not_applicable or stale are counted in the sections above, not listed one by one. "
            "Every summary, breach, stale device, waiver and pair needing attention is in full. "
            "The CSV and JSON reports with the same report digest list every device and pair."
        )


def controls_label(policy: PolicyView) -> str:
    """'cyber-essentials:A6.4; dspt:8.3.1'"""
    return "; ".join(f"{fw}:{control}" for fw, controls in policy.frameworks.items() for control in controls)


def evidence_summary(rows: list[dict[str, str]], limit: int = EVIDENCE_SUMMARY_MAX_CHARS) -> str:
    """'drive_letter=C: protection_status=0 | ...' with columns sorted, cut at `limit` characters."""
    text = " | ".join(" ".join(f"{k}={v}" for k, v in sorted(row.items())) for row in rows)
    if len(rows) > 1:
        text = f"{len(rows)} rows: {text}"
    return text if len(text) <= limit else text[: limit - 1] + "…"
