"""`fleetward policies baselines`: show each baseline's provenance, and refresh it from release data.

The monthly routine (docs/policies.md, "Monthly baseline update"): fetch the newest DataForGeeks
files, `refresh --feeds DIR`, review the diff, `fleetward policies lint`, then build, sign and
publish the bundle (docs/policy-bundles.md).

Exit status: 0 done and every baseline covers the instant; 1 written (or shown), but a baseline is
still stale at the instant, because the feed itself is older than the floor it must hold; 2 could
not run (bad arguments, an unreadable catalogue or feed).
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

if TYPE_CHECKING:
    from fleetward.policy.freshness import Provenance

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Show the patch baselines' provenance and freshness; refresh them from release data.",
)

EXIT_OK, EXIT_STALE, EXIT_UNUSABLE = 0, 1, 2

CatalogueOption = Annotated[
    Path | None, typer.Option("--catalogue", help="Catalogue directory (default: the shipped policies/).")
]
AtOption = Annotated[
    str | None, typer.Option("--at", help="Judge freshness at this ISO 8601 instant (default: now).")
]


@app.command()
def show(
    catalogue_dir: CatalogueOption = None,
    at: AtOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Each baseline: refreshed, newest floor, sources, and whether it covers the instant."""
    from fleetward.errors import FleetwardError
    from fleetward.policy.baseline import catalogue_provenance
    from fleetward.policy.catalogue import load_catalogue

    try:
        instant = _instant(at)
        rows = catalogue_provenance(load_catalogue(catalogue_dir), instant)
    except FleetwardError as exc:
        _unusable(str(exc))
    if as_json:
        typer.echo(json.dumps([p.as_dict() for p in rows], indent=2, ensure_ascii=False))
    else:
        for row in rows:
            _print(row)
    raise typer.Exit(EXIT_STALE if any(p.freshness.stale for p in rows) else EXIT_OK)


@app.command()
def refresh(
    feeds: Annotated[
        Path,
        typer.Option(
            "--feeds",
            help="Directory with the DataForGeeks files (ms-mswin-buildnumbers.json, "
            "apple-macos-releases.json, linux-ubuntu-releases.json).",
        ),
    ],
    catalogue_dir: CatalogueOption = None,
    at: AtOption = None,
) -> None:
    """Add the published monthly floors to policies/baselines/*.yaml (idempotent)."""
    from fleetward.errors import FleetwardError
    from fleetward.policy.baseline import catalogue_provenance
    from fleetward.policy.catalogue import default_policies_dir, load_catalogue
    from fleetward.policy.refresh import refresh_baselines

    root = catalogue_dir or default_policies_dir()
    try:
        instant = _instant(at)
        results = refresh_baselines(root, feeds)
        rows = {p.baseline: p for p in catalogue_provenance(load_catalogue(root), instant)}
    except (FleetwardError, ValueError) as exc:
        _unusable(str(exc))
    stale = False
    for result in results:
        verb = "updated" if result.changed else "unchanged"
        feed = f" from {result.feed.file} of {result.feed.updated.date()}" if result.feed else ""
        typer.echo(f"{result.baseline}: {verb}{feed} ({result.path}); refreshed {result.refreshed}")
        for line in result.added:
            typer.echo(f"  {line}")
        for note in result.notes:
            typer.echo(f"  note: {note}", err=True)
        row = rows.get(result.baseline)
        if row is not None and row.freshness.stale:
            stale = True
            where = (
                f"{result.feed.file} (updated {result.feed.updated.date()})" if result.feed else "the data"
            )
            due = f" the {row.freshness.due} floor" if row.freshness.due else " the floors"
            typer.echo(
                f"  still stale at {instant.date()}: {where} is older than{due} it must hold "
                f"({row.freshness.message.split(': ', 1)[-1].split('; refresh')[0]}). Fetch a newer copy of "
                "the feed and run refresh again, or add the floor by hand from the vendor's update history "
                "with its source (docs/policies.md).",
                err=True,
            )
    typer.echo("next: review the diff, `fleetward policies lint`, then build, sign and publish the bundle.")
    raise typer.Exit(EXIT_STALE if stale else EXIT_OK)


def _print(row: Provenance) -> None:
    newest = row.newest_floor.isoformat() if row.newest_floor else "none (no floors)"
    typer.echo(f"{row.baseline}: {row.title}")
    typer.echo(f"  refreshed {row.refreshed}, newest floor {newest}, {row.freshness.state.value}")
    if row.freshness.state.value in ("due", "stale"):
        typer.echo(f"  {row.freshness.message}")
    typer.echo(f"  sources: {', '.join(key for key, _ in row.sources)}")


def _instant(text: str | None) -> datetime:
    from fleetward.clock import ensure_utc
    from fleetward.errors import FleetwardError

    if text is None:
        return datetime.now(UTC)
    try:
        return ensure_utc(datetime.fromisoformat(text))
    except ValueError as exc:
        raise FleetwardError(f"--at {text!r}: {exc} (example: 2026-11-15T09:00:00Z)") from exc


def _unusable(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    sys.exit(EXIT_UNUSABLE)
