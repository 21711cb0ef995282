"""`fleetward report`: compliance reports for auditors, and checking a report's digest.

    fleetward report --database-url URL --format html --at 2026-03-31T12:00Z --out report.html
    fleetward report --collector https://collector --format pdf --from 2026-03-01T00:00Z --to 2026-04-01T00:00Z
    fleetward report --database-url URL --format json --as-known-at 2026-12-01T09:00:00Z
    fleetward report verify report.csv --against report.json

Heavy imports (SQLAlchemy, matplotlib, fpdf2, httpx) happen inside the commands.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from rich.progress import Progress

app = typer.Typer(
    help="Compliance reports for auditors.",
    add_completion=False,
)

_FORMATS = ("html", "csv", "json", "pdf")


def _instant(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not an ISO 8601 instant; write e.g. 2026-03-31T12:00:00Z", param_hint=option
        ) from None


@app.callback(invoke_without_command=True)
def report(
    ctx: typer.Context,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            envvar="FLEETWARD_DATABASE_URL",
            show_envvar=True,
            help="Read the collector's database directly (sqlite:///path.db, postgresql+psycopg://...).",
        ),
    ] = None,
    collector: Annotated[
        str | None,
        typer.Option(
            "--collector", help="Read from a running collector over HTTP(S) instead (its base URL)."
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="FLEETWARD_TOKEN",
            show_envvar=True,
            help="Auditor or admin API token for --collector (prefer the environment variable).",
        ),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="html, csv, json or pdf.")] = "html",
    at: Annotated[
        str | None, typer.Option("--at", help="Report the state at this instant (ISO 8601); default now.")
    ] = None,
    start: Annotated[str | None, typer.Option("--from", help="Period start (ISO 8601); needs --to.")] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="Period end (ISO 8601); the state is taken there.")
    ] = None,
    framework: Annotated[
        str | None, typer.Option("--framework", help="Only policies mapped to this framework id.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write here instead of standard output.")
    ] = None,
    generated_at: Annotated[
        str | None,
        typer.Option(
            "--generated-at",
            help="Stamp the report with this instant instead of now: regenerate a copy to "
            "compare digests with (see docs/auditors.md).",
        ),
    ] = None,
    as_known_at: Annotated[
        str | None,
        typer.Option(
            "--as-known-at",
            help="Build the report from only what the collector had received by this instant (its "
            "knowledge instant, stated in the report): the report issued then, byte for byte. "
            "--at and --generated-at default to it.",
        ),
    ] = None,
) -> None:
    """Generate a compliance report (run `fleetward report verify FILE` to check one)."""
    if ctx.invoked_subcommand is not None:
        return
    from collector.reports.errors import ReportError

    try:
        size = _generate(
            database_url, collector, token, fmt, at, start, end, framework, generated_at, out, as_known_at
        )
    except ReportError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if out is not None:
        typer.echo(f"wrote {out} ({size:,} bytes)", err=True)


def _generate(
    database_url: str | None,
    collector: str | None,
    token: str | None,
    fmt: str,
    at: str | None,
    start: str | None,
    end: str | None,
    framework: str | None,
    generated_at: str | None,
    out: Path | None,
    as_known_at: str | None = None,
) -> int:
    """Write the report to `out` (or standard output); its size in bytes."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    from collector.reports.build import build_report, check_known_at
    from collector.reports.errors import ReportInputError
    from collector.reports.render import renderer_for
    from collector.reports.sources import (
        describe_collector,
        describe_database,
        history_from_collector,
        history_from_database,
    )
    from fleetward.clock import SystemClock

    if fmt not in _FORMATS:
        raise ReportInputError(f"--format {fmt!r} is not one of: {', '.join(_FORMATS)}")
    if (database_url is None) == (collector is None):
        raise ReportInputError(
            "give either --database-url URL or --collector URL (with --token), one of them"
        )
    if collector is not None and not token:
        raise ReportInputError(
            "--collector needs --token (or FLEETWARD_TOKEN): an auditor or admin API token"
        )
    if (start is None) != (end is None):
        raise ReportInputError("a period needs both --from and --to")
    if at is not None and start is not None:
        raise ReportInputError("give --at or --from/--to, not both")
    if out is None and fmt == "pdf" and sys.stdout.isatty():
        raise ReportInputError("a PDF is binary: give --out FILE (or redirect standard output)")
    instant, begin, finish = _instant(at, "--at"), _instant(start, "--from"), _instant(end, "--to")
    clock_now = SystemClock().now()
    known_at = check_known_at(_instant(as_known_at, "--as-known-at"), clock_now, "--as-known-at")
    # Without --as-known-at the report holds everything and states its generation instant as its
    # knowledge instant (docs/auditors.md "Reproducing a report").
    now = _instant(generated_at, "--generated-at") or known_at or clock_now
    renderer = renderer_for(fmt)
    console = Console(stderr=True)
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    at_instant = None if begin else (instant or now)
    period = (begin, finish) if begin and finish else None
    with Progress(*columns, console=console, transient=True) as progress:
        if database_url is not None and known_at is None:  # as known earlier: built whole, below
            digest: list[str] = []
            chunks = _streamed(database_url, fmt, at_instant, period, framework, now, progress, digest.append)
            size = _write(chunks, out)
            typer.echo(f"report digest {digest[0]}", err=True)
            return size
        loading = progress.add_task("reading the fleet", total=None)
        if collector is not None:
            history = history_from_collector(collector, token or "", known_at=known_at)
            source = describe_collector(collector)
        else:
            assert database_url is not None
            history = history_from_database(database_url, known_at=known_at)
            source = describe_database(database_url)
        progress.remove_task(loading)
        building = progress.add_task("building the report (devices)", total=max(len(history.devices), 1))
        report = build_report(
            history,
            at=at_instant,
            period=period,
            framework=framework,
            generated_at=now,
            source=source,
            progress=lambda done, total: progress.update(building, completed=done, total=total),
            known_at=known_at,
        )
        progress.add_task(f"rendering {fmt}", total=None)
        data = renderer.render(report)
    typer.echo(f"report digest {report.digest}", err=True)
    return _write(iter([data]), out)


def _streamed(
    database_url: str,
    fmt: str,
    at: datetime | None,
    period: tuple[datetime, datetime] | None,
    framework: str | None,
    now: datetime,
    progress: Progress,
    on_digest: Callable[[str], object],
) -> Iterator[bytes]:
    """The report streamed from the database a page of devices at a time (unsigned: only a
    collector signs), in memory bounded by a page whatever the fleet size."""
    from sqlalchemy import func, select
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.orm import Session

    from collector.domain.state import DEFAULT_VALIDITY
    from collector.reports.errors import ReportSourceError
    from collector.reports.sources import describe_database
    from collector.reports.stream import ReportRequest, stream_report
    from collector.store.engine import make_engine
    from collector.store.models import Device
    from collector.store.report_rows import device_pages, report_context

    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            devices = session.execute(select(func.count()).select_from(Device)).scalar_one()
            request = ReportRequest(
                context=report_context(session, validity=DEFAULT_VALIDITY),
                at=at,
                period=period,
                framework=framework,
                generated_at=now,
                source=describe_database(database_url),
                devices=devices,
                on_digest=on_digest,
            )
            task = progress.add_task(f"writing the {fmt} report (devices)", total=max(devices, 1))

            def pages() -> Iterator[Any]:
                for page in device_pages(session, validity=DEFAULT_VALIDITY):
                    yield page
                    progress.advance(task, len(page.devices))

            yield from stream_report(fmt, request, pages())
    except SQLAlchemyError as exc:
        raise ReportSourceError(
            f"could not read the fleet from {describe_database(database_url)}: {exc.__class__.__name__}: "
            f"{str(exc).splitlines()[0]}; check the URL and run `fleetward collector migrate` on a new database"
        ) from None
    finally:
        engine.dispose()


def _write(chunks: Iterator[bytes], out: Path | None) -> int:
    """Each chunk as it comes; a file left half written by an error is removed."""
    size = 0
    target = out.open("wb") if out is not None else sys.stdout.buffer
    try:
        for chunk in chunks:
            target.write(chunk)
            size += len(chunk)
        target.flush()
    except BaseException:
        if out is not None:
            target.close()
            out.unlink(missing_ok=True)
        raise
    if out is not None:
        target.close()
    return size


@app.command()
def verify(
    file: Annotated[
        Path,
        typer.Argument(
            help="A report in any format (json, csv, html, pdf).", exists=True, dir_okay=False, readable=True
        ),
    ],
    against: Annotated[
        Path | None,
        typer.Option(
            "--against",
            help="The JSON report to check a CSV, HTML or PDF copy against.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    keys: Annotated[
        list[str] | None,
        typer.Option(
            "--key",
            envvar="FLEETWARD_TRUSTED_REPORT_KEYS",
            show_envvar=True,
            help="A collector public key you trust (base64, or a file holding it; repeat for several): "
            "the report must be signed by one of them. Without it only integrity is checked.",
        ),
    ] = None,
) -> None:
    """Check a report: its digest (JSON) or seal, its signature against the keys you trust, and
    optionally a CSV, HTML or PDF copy against the JSON report."""
    from collector.reports.verify import verify_bytes
    from fleetward.bundle.errors import KeyFileError
    from fleetward.bundle.keys import PublicKey

    try:
        trusted = [PublicKey.from_argument(k) for text in keys or [] for k in text.split(",") if k.strip()]
    except KeyFileError as exc:
        typer.echo(f"error: --key: {exc}", err=True)
        raise typer.Exit(2) from None
    result = verify_bytes(file.read_bytes(), against.read_bytes() if against else None, trusted)
    for check in result.checks:
        typer.echo(f"{'ok  ' if check.ok else 'FAIL'} {check.name}: {check.detail}")
    if result.report_digest:
        typer.echo(f"report digest: {result.report_digest}")
    typer.echo(f"authenticity: {result.authenticity}")
    if result.ok:
        typer.echo(f"{file}: verified ({result.format})")
        return
    typer.echo(f"{file}: NOT verified ({result.format})", err=True)
    raise typer.Exit(1)
