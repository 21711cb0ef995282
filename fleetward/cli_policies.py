"""`fleetward policies`: lint the catalogue, and test it against recorded devices.

Exit status of `test`: 0 when every policy passed or was not applicable, 1 when any failed, 2 when
any could not be evaluated (an error) or the input was invalid. `test --all` is a report of the
whole shipped estate and exits 0 unless the catalogue or a device cannot be read.
Heavy imports live inside the commands so `fleetward --help` stays fast.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

if TYPE_CHECKING:
    from fleetward.policy.catalogue import Catalogue
    from fleetward.policy.fleet_import import FleetPolicy
    from fleetward.policy.verdict import Result
    from fleetward.recorded.model import RecordedDevice

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="Lint the policy catalogue and test it against devices."
)

EXIT_PASS, EXIT_FAIL, EXIT_ERROR = 0, 1, 2


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


CatalogueOption = Annotated[
    Path | None,
    typer.Option("--catalogue", help="Catalogue directory (default: the shipped policies/)."),
]


@app.command()
def lint(
    path: Annotated[
        Path | None, typer.Argument(help="Catalogue directory (default: the shipped policies/).")
    ] = None,
    devices_dir: Annotated[
        Path | None,
        typer.Option(
            "--devices", help="Recorded devices to run every policy on (default: the shipped ones)."
        ),
    ] = None,
) -> None:
    """Check the catalogue runs on osqueryd: fields, ids, references, baselines, and every query compiled
    against each supported osquery release's schema per platform and run on every recorded device."""
    from fleetward.errors import FleetwardError
    from fleetward.policy.lint import lint_catalogue
    from fleetward.recorded.model import load_devices

    try:
        devices = load_devices(devices_dir) if devices_dir is not None else None
    except FleetwardError as exc:
        _fail_usage(str(exc))
    problems = lint_catalogue(path, datetime.now(UTC), devices)
    for problem in problems:
        typer.echo(str(problem))
    if problems:
        typer.echo(f"{len(problems)} problem(s) found.", err=True)
        raise typer.Exit(EXIT_FAIL)
    typer.echo("catalogue is clean", err=True)


@app.command("import")
def import_fleet(
    files: Annotated[
        list[Path], typer.Argument(help="Fleet policy YAML files (standard query library or GitOps).")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Catalogue directory to write the policies into.")],
) -> None:
    """Import Fleet policies as catalogue files (Fleet's "rows mean pass"); lint the result next."""
    from fleetward.policy.fleet_import import read_fleet_files, write_catalogue

    result = read_fleet_files(files)
    for problem in result.problems:
        typer.echo(str(problem), err=True)
    if not result.policies:
        _fail_usage(f"no Fleet policies found in {', '.join(str(f) for f in files)}")
    written = write_catalogue(result, out, _result_columns)
    typer.echo(
        f"imported {len(result.policies)} Fleet policies into {out} ({len(written) - 1} files, catalogue.yaml; "
        f"skipped {result.skipped} documents that are not policies). Next: fleetward policies lint {out}",
        err=True,
    )
    if result.problems:
        raise typer.Exit(EXIT_FAIL)


def _result_columns(policy: FleetPolicy) -> list[str] | None:
    from fleetward.errors import QueryError
    from fleetward.recorded.engine import RecordedEngine
    from fleetward.recorded.extensions import bundled_extension_names, extension_tables
    from fleetward.recorded.model import RecordedDevice

    device = RecordedDevice(name="import", platform=policy.platforms[0], recorded_at=datetime.now(UTC))
    engine = RecordedEngine(device, extension_tables=extension_tables(bundled_extension_names()))
    try:
        return engine.columns(policy.query.strip().rstrip(";"))
    except QueryError:
        return None
    finally:
        engine.close()


@app.command("test")
def run_tests(
    device: Annotated[
        str | None,
        typer.Option("--device", "-d", help="A recorded-device YAML file, or the name of a shipped device."),
    ] = None,
    all_devices: Annotated[bool, typer.Option("--all", help="Every shipped device x every policy.")] = False,
    at: Annotated[
        str | None,
        typer.Option(help="Evaluate as of this ISO 8601 instant (default: when the device was recorded)."),
    ] = None,
    output: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="table or json")
    ] = OutputFormat.TABLE,
    catalogue_dir: CatalogueOption = None,
) -> None:
    """Evaluate the catalogue against a recorded device (exit 0 pass, 1 fail, 2 error)."""
    from fleetward.errors import FleetwardError
    from fleetward.policy.catalogue import load_catalogue
    from fleetward.recorded.model import load_devices

    if (device is None) == (not all_devices):
        _fail_usage("give either --device FILE|NAME or --all")
    try:
        instant = _parse_instant(at) if at else None
        catalogue = load_catalogue(catalogue_dir)
        devices = load_devices() if all_devices else [_resolve_device(device or "")]
    except FleetwardError as exc:
        _fail_usage(str(exc))
    evaluated = [(d, _evaluate(catalogue, d, instant or d.recorded_at)) for d in devices]
    if not all_devices:
        _warn_if_stale(catalogue, devices[0], instant or devices[0].recorded_at)
    if output is OutputFormat.JSON:
        payload: object
        if all_devices:
            payload = [{"device": d.name, "results": _json_results(catalogue, rs)} for d, rs in evaluated]
        else:
            payload = _json_results(catalogue, evaluated[0][1])
        typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))
    elif all_devices:
        from fleetward.policy.console import print_estate

        print_estate(catalogue, evaluated)
    else:
        from fleetward.policy.console import print_device

        print_device(catalogue, evaluated[0][0], evaluated[0][1], instant or evaluated[0][0].recorded_at)
    if not all_devices:
        raise typer.Exit(exit_status(evaluated[0][1]))


def exit_status(results: list[Result]) -> int:
    statuses = {r.status.value for r in results}
    if "error" in statuses:
        return EXIT_ERROR
    if "fail" in statuses:
        return EXIT_FAIL
    return EXIT_PASS


def _evaluate(catalogue: Catalogue, device: RecordedDevice, at: datetime) -> list[Result]:
    from fleetward.policy.run import evaluate_catalogue
    from fleetward.recorded.engine import RecordedEngine

    engine = RecordedEngine(device)
    try:
        return evaluate_catalogue(catalogue, device.platform, engine.query, at)
    finally:
        engine.close()


def _json_results(catalogue: Catalogue, results: list[Result]) -> list[dict[str, object]]:
    return [{**r.model_dump(mode="json"), "title": catalogue.policy(r.policy_id).title} for r in results]


def _resolve_device(reference: str) -> RecordedDevice:
    from fleetward.errors import DeviceRecordError
    from fleetward.recorded.model import default_devices_dir, load_device

    path = Path(reference)
    if path.is_file():
        return load_device(path)
    shipped = default_devices_dir() / f"{reference}.yaml"
    if path.suffix == "" and shipped.is_file():
        return load_device(shipped)
    names = ", ".join(sorted(p.stem for p in default_devices_dir().glob("*.yaml")))
    raise DeviceRecordError(
        f"--device {reference!r} is neither a file nor a shipped device. Shipped devices: {names}"
    )


def _parse_instant(text: str) -> datetime:
    from fleetward.clock import ensure_utc
    from fleetward.errors import FleetwardError

    try:
        return ensure_utc(datetime.fromisoformat(text))
    except ValueError as exc:
        raise FleetwardError(f"--at {text!r}: {exc} (example: 2026-11-15T09:00:00Z)") from exc


def _warn_if_stale(catalogue: Catalogue, device: RecordedDevice, at: datetime) -> None:
    from fleetward.policy.baseline import catalogue_provenance
    from fleetward.policy.freshness import FreshnessState

    used = {p.baseline for p in catalogue.for_platform(device.platform) if p.baseline}
    for row in catalogue_provenance(catalogue, at):
        if row.baseline in used and row.freshness.state in (FreshnessState.DUE, FreshnessState.STALE):
            typer.echo(f"warning: {row.freshness.message}", err=True)


def _fail_usage(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    sys.exit(EXIT_ERROR)
