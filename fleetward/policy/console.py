"""Rich tables for `fleetward policies test`: one device in detail, or the whole estate at a glance."""

from __future__ import annotations

from datetime import datetime

from rich.console import Console
from rich.table import Table
from rich.text import Text

from fleetward.policy.catalogue import Catalogue
from fleetward.policy.model import Platform
from fleetward.policy.verdict import Result, Status
from fleetward.recorded.model import RecordedDevice

STYLE = {
    Status.PASS: ("pass", "bold green"),
    Status.FAIL: ("FAIL", "bold red"),
    Status.ERROR: ("ERROR", "bold yellow"),
    Status.NOT_APPLICABLE: ("n/a", "dim"),
}
PLATFORM_TITLES = {Platform.WINDOWS: "Windows", Platform.DARWIN: "macOS", Platform.LINUX: "Linux"}


def status_text(status: Status) -> Text:
    label, style = STYLE[status]
    return Text(label, style=style)


def print_device(
    catalogue: Catalogue,
    device: RecordedDevice,
    results: list[Result],
    at: datetime,
    console: Console | None = None,
) -> None:
    console = console or Console()
    table = Table(
        title=f"{device.name} ({device.platform.value}) evaluated at {at.isoformat().replace('+00:00', 'Z')}",
        caption=device.description or None,
        show_lines=False,
    )
    table.add_column("policy", style="cyan", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("evidence / error", overflow="fold")
    for result in results:
        if result.status is Status.NOT_APPLICABLE:
            continue
        table.add_row(result.policy_id, status_text(result.status), _detail(result))
    console.print(table)
    skipped = sum(r.status is Status.NOT_APPLICABLE for r in results)
    console.print(
        Text(f"{skipped} policies for other platforms not applicable; catalogue {catalogue.digest}", "dim")
    )


def print_estate(
    catalogue: Catalogue, evaluated: list[tuple[RecordedDevice, list[Result]]], console: Console | None = None
) -> None:
    """One table per platform: devices down, that platform's policies across."""
    console = console or Console()
    for platform in Platform:
        rows = [(d, rs) for d, rs in evaluated if d.platform is platform]
        if not rows:
            continue
        policies = catalogue.for_platform(platform)
        table = Table(
            title=f"{PLATFORM_TITLES[platform]}: {len(rows)} recorded devices", title_justify="left"
        )
        table.add_column("device", style="cyan", no_wrap=True)
        for policy in policies:
            table.add_column(policy.id.replace("-", "\n", 1), justify="center", no_wrap=True)
        for device, results in rows:
            by_id = {r.policy_id: r for r in results}
            table.add_row(device.name, *(status_text(by_id[p.id].status) for p in policies))
        console.print(table)
    totals = dict.fromkeys(Status, 0)
    for _, results in evaluated:
        for result in results:
            totals[result.status] += 1
    summary = Text("results: ")
    for status in (Status.PASS, Status.FAIL, Status.ERROR):
        summary.append(f"{totals[status]} ", style=STYLE[status][1]).append(f"{status.value}  ")
    summary.append(f"catalogue {catalogue.digest}", style="dim")
    console.print(summary)


def _detail(result: Result) -> str:
    if result.error:
        return result.error
    if not result.evidence:
        return "no rows" if result.status is Status.FAIL else ""
    first = result.evidence[0]
    shown = ", ".join(f"{k}={v}" for k, v in first.items() if k != "compliant" and v != "")
    more = len(result.evidence) - 1
    return shown + (f" (+{more} rows)" if more > 0 else "")
