"""`fleetward simulate` and `fleetward demo`. Heavy imports stay inside the commands."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

import typer

Devices = Annotated[int, typer.Option("--devices", min=1, max=100_000, help="How many laptops.")]
Days = Annotated[int, typer.Option("--days", min=1, max=3650, help="How many simulated days.")]
Seed = Annotated[int, typer.Option("--seed", help="Same seed, same fleet, same events.")]
Start = Annotated[
    str | None,
    typer.Option(
        "--start",
        help="First simulated day (ISO 8601 date). Default: 2026-05-31, so June's Patch Tuesday is inside.",
    ),
]


def _start(value: str | None) -> datetime:
    from simulator.demo import DEFAULT_START

    if value is None:
        return DEFAULT_START
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not an ISO 8601 date, e.g. 2026-06-01") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def demo_app(
    out: Annotated[Path, typer.Option("--out", help="Where the reports and the demo database go.")] = Path(
        "demo-out"
    ),
    devices: Devices = 60,
    days: Days = 31,
    seed: Seed = 7,
    start: Start = None,
) -> None:
    """The whole system end to end on embedded defaults."""
    # Enrolls a simulated fleet, runs it through a month and writes the auditor reports.
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from simulator.demo import run_demo

    console = Console()
    first = _start(start)
    console.print(
        f"[bold]fleetward demo[/]: {devices} laptops, {days} days from {first.date()}, seed {seed}; "
        "SQLite collector on loopback in this process"
    )
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[note]}"),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("simulating", total=days, note="")

        def progress(done: int, total: int, note: str) -> None:
            bar.update(task, completed=done, total=total, note=note)

        outcome = run_demo(out, devices=devices, days=days, seed=seed, start=first, progress=progress)
    summary = outcome.summary
    console.print(f"reports delivered by the agents: {outcome.reports_delivered}")
    console.print(f"fleet at {outcome.plan.end.isoformat()}: compliance {_rate(summary)}, {_counts(summary)}")
    for fmt, path in outcome.reports.items():
        console.print(f"  {fmt:<4} {path}")
    console.print(
        f"  truth {outcome.truth_path} (what the simulator knows; the e2e test checks reports against it)"
    )
    console.print(
        f"  database {outcome.database_url} (try: fleetward report --database-url {outcome.database_url} --format html)"
    )
    console.print(f"digest {summary.get('digest')}: check a copy with `fleetward report verify FILE`")
    start_day, end_day = outcome.plan.start.date().isoformat(), outcome.plan.end.isoformat()
    console.print(
        "dashboard for the demo's month: "
        f"`FLEETWARD_DATABASE_URL={outcome.database_url} fleetward collector token create --role auditor --name me`, "
        f"`FLEETWARD_DATABASE_URL={outcome.database_url} fleetward collector serve`, then "
        f"http://127.0.0.1:8800/ui/?from={start_day}&to={quote(end_day)}"
    )


def _rate(summary: dict[str, object]) -> str:
    pairs = summary.get("pairs")
    if isinstance(pairs, dict) and pairs.get("rate") is not None:
        return f"{float(pairs['rate']) * 100:.1f}% of applicable device x policy pairs"
    return "n/a (no devices)"


def _counts(summary: dict[str, object]) -> str:
    counts = summary.get("status_counts") or {}
    if isinstance(counts, dict):
        return ", ".join(f"{k} {v}" for k, v in counts.items() if v)
    return ""


LiveStart = Annotated[
    str | None,
    typer.Option(
        "--start",
        help="First simulated day (ISO 8601 date). Default: --days before today, so the period ends now: "
        "the collector runs on the real clock and refuses waivers that already expired.",
    ),
]


def simulate_app(
    collector: Annotated[
        str, typer.Option("--collector", help="The collector's base URL, e.g. http://127.0.0.1:8800")
    ],
    token: Annotated[
        str,
        typer.Option(
            "--token", envvar="FLEETWARD_ADMIN_TOKEN", help="An admin token (enroll secrets, waivers)."
        ),
    ],
    devices: Devices = 50,
    days: Days = 30,
    seed: Seed = 7,
    start: LiveStart = None,
    work_dir: Annotated[
        Path | None,
        typer.Option("--work-dir", help="Where the laptops' agent state goes (default: a temp dir)."),
    ] = None,
) -> None:
    """Run a simulated fleet against a collector."""
    # N simulated laptops through D days against a running collector, over real HTTP.
    import tempfile

    from rich.progress import Progress

    from fleetward.clock import ManualClock
    from simulator.runner import FleetSimulation, SimulationError
    from simulator.setup import shipped_setup

    # A live collector runs on the real clock: by default the simulated period ends today, so its
    # waivers expire in the collector's future and no report comes from the collector's future.
    now = datetime.now(UTC)
    first = (
        _start(start)
        if start
        else (now - timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)
    )
    setup = shipped_setup(devices=devices, days=days, seed=seed, start=first)
    catalogue, templates, plan = setup.catalogue, setup.templates, setup.plan
    with tempfile.TemporaryDirectory(prefix="fleetward-sim-") as tmp:
        simulation = FleetSimulation(
            plan,
            templates=templates,
            catalogue=catalogue,
            collector_url=collector,
            admin_token=token,
            clock=ManualClock(first),
            work_dir=work_dir or Path(tmp),
            collector_now=lambda: datetime.now(UTC),
        )
        try:
            with Progress() as bar:
                task = bar.add_task("simulating", total=days)
                simulation.run(lambda done, total, _note: bar.update(task, completed=done, total=total))
        except SimulationError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
        finally:
            simulation.close()
    for note in simulation.skipped_waivers:
        typer.echo(f"note: {note}", err=True)
    typer.echo(
        f"{devices} laptops over {days} days from {first.date()}: {simulation.reports_delivered} reports "
        "delivered; the enroll secrets it created are revoked"
    )
