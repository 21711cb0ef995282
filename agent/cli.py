"""`fleetward-agent`: the laptop agent's command line (documented in docs/reference/agent-cli.md).

A composition root: module-level imports are typer and the standard library only, so starting the
agent stays light; each command imports what it uses.

Exit status of every command: 0 success; `check` returns 1 when any policy fails and 2 when any is
`error` (an error outranks a fail: it means the laptop could not be verified); 2 also means the agent
could not do what was asked (bad settings, osquery or the collector unreachable), with a message on
stderr naming what and how to fix it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from datetime import datetime

    from agent.settings import AgentSettings
    from fleetward.policy.catalogue import Catalogue
    from fleetward.policy.verdict import Result

EXIT_OK, EXIT_FAIL, EXIT_ERROR = 0, 1, 2

app = typer.Typer(
    name="fleetward-agent",
    help="The fleetward laptop agent: evaluates compliance policies with osquery and reports drift.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(help="Inspect the agent's settings.", no_args_is_help=True)
app.add_typer(config_app, name="config")


class Format(enum.StrEnum):
    table = "table"
    json = "json"


ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="Config file to read instead of FLEETWARD_CONFIG_FILE or the OS default."),
]
FormatOption = Annotated[Format, typer.Option("--format", help="Output format.")]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"fleetward-agent: {message}", err=True)
    return typer.Exit(EXIT_ERROR)


@contextmanager
def _explained_errors() -> Iterator[None]:
    """Our own errors become a message and exit status 2, never a traceback."""
    from fleetward.errors import FleetwardError

    try:
        yield
    except FleetwardError as exc:
        raise _fail(str(exc)) from None


def _settings(config: Path | None, **overrides: Any) -> AgentSettings:
    from agent.settings import load_settings

    return load_settings(config_file=config, **overrides)


@app.command()
def check(
    osquery_socket: Annotated[
        list[str] | None,
        typer.Option(
            "--osquery-socket", help="osqueryd extension socket (repeatable); overrides the settings."
        ),
    ] = None,
    policies: Annotated[
        Path | None, typer.Option("--policies", help="Evaluate the policies in this directory.")
    ] = None,
    device: Annotated[
        Path | None,
        typer.Option("--device", help="Answer from this recorded device (YAML) instead of osquery."),
    ] = None,
    output: FormatOption = Format.table,
    config: ConfigOption = None,
) -> None:
    """Evaluate every policy once and print the verdicts. Nothing is stored or sent.

    Exit status: 0 all pass or not applicable, 1 any fail, 2 any error.
    """
    from datetime import UTC, datetime

    with _explained_errors():
        settings = _settings(config)
        catalogue, results = _evaluate_once(settings, osquery_socket, policies, device)
    if output is Format.json:
        import json

        typer.echo(json.dumps([r.model_dump(mode="json") for r in results], indent=2))
    else:
        _print_results(results)
    _print_baselines(catalogue, results, datetime.now(UTC), to_stderr=output is Format.json)
    raise typer.Exit(_exit_status(results))


def _print_baselines(catalogue: Catalogue, results: list[Result], at: datetime, *, to_stderr: bool) -> None:
    """Where the patch floors came from, and a warning when a baseline is due or stale."""
    from fleetward.policy.baseline import catalogue_provenance

    used = {catalogue.policy(r.policy_id).baseline for r in results if r.status.value != "not_applicable"}
    for row in catalogue_provenance(catalogue, at):
        if row.baseline not in used:
            continue
        newest = row.newest_floor.isoformat() if row.newest_floor else "none"
        if not to_stderr:
            typer.echo(
                f"baseline {row.baseline}: refreshed {row.refreshed}, newest floor {newest}, "
                f"sources {', '.join(k for k, _ in row.sources)}: {row.freshness.state.value}"
            )
        if row.freshness.state.value in ("due", "stale"):
            typer.echo(f"warning: {row.freshness.message}", err=True)


def _evaluate_once(
    settings: AgentSettings, sockets: list[str] | None, policies: Path | None, device: Path | None
) -> tuple[Catalogue, list[Result]]:
    from agent.compose import load_agent_catalogue, runner_factory
    from agent.evaluation import Evaluator, RunnerFactory
    from fleetward.clock import SystemClock

    catalogue = load_agent_catalogue(settings, policies)
    if device is None:
        make_runner: RunnerFactory = runner_factory(settings, sockets)
    else:
        from agent.osquery.recorded import RecordedRunner

        make_runner = lambda: RecordedRunner.from_file(device)  # noqa: E731
    evaluator = Evaluator(
        catalogue,
        make_runner,
        SystemClock(),
        deadline_seconds=settings.evaluation_deadline_seconds,
        practice=settings.practice,
    )
    return catalogue, evaluator.evaluate().results


def _exit_status(results: list[Result]) -> int:
    statuses = {r.status.value for r in results}
    if "error" in statuses:
        return EXIT_ERROR
    return EXIT_FAIL if "fail" in statuses else EXIT_OK


def _print_results(results: list[Result]) -> None:
    from rich.console import Console
    from rich.table import Table

    colours = {"pass": "green", "fail": "red", "error": "magenta", "not_applicable": "dim"}
    table = Table("policy", "status", "detail")
    for r in results:
        detail = r.error or (f"{len(r.evidence)} evidence rows" if r.evidence else "")
        table.add_row(r.policy_id, f"[{colours[r.status.value]}]{r.status.value}[/]", detail)
    Console().print(table)


@app.command()
def run(config: ConfigOption = None) -> None:
    """Run the service loop: evaluate on a schedule, report drift, deliver the outbox. Stops on SIGTERM."""
    import logging

    from agent.compose import build_agent
    from agent.scheduler import AgentLoop, Timings, stop_on_signals

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("thrift").setLevel(logging.CRITICAL)  # it logs every refused connect; we say it once
    logging.getLogger("httpx").setLevel(logging.WARNING)
    with _explained_errors():
        settings = _settings(config)
        agent = build_agent(settings)
    stop_on_signals(agent.stop)
    try:
        AgentLoop(agent.service, Timings.from_settings(settings), stop=agent.stop).run()
    finally:
        agent.close()


@app.command()
def status(output: FormatOption = Format.table, config: ConfigOption = None) -> None:
    """Last evaluation, outbox depth, last delivery, enrollment state and any compaction or dead letters."""
    from agent.enroll import CredentialsFile
    from agent.outbox import Outbox
    from agent.status import read_status
    from agent.store import Database
    from fleetward.clock import SystemClock

    with _explained_errors():
        settings = _settings(config)
        credentials = CredentialsFile(settings.state_dir).load()
        db = Database.in_state_dir(settings.state_dir)
        try:
            outbox = Outbox(
                db,
                max_entries=settings.outbox_max_entries,
                max_bytes=settings.outbox_max_bytes,
                clock=SystemClock(),
            )
            current = read_status(
                db,
                outbox,
                device_id=credentials.device_id if credentials else None,
                collector_url=settings.collector_url,
            )
        finally:
            db.close()
    if output is Format.json:
        import json

        typer.echo(json.dumps(current.as_dict(), indent=2))
        return
    for name, value in current.as_dict().items():
        if name == "baselines":
            continue
        typer.echo(f"{name.replace('_', ' ')}: {'-' if value is None else value}")
    for row in current.baselines:
        typer.echo(
            f"baseline {row.get('baseline')}: refreshed {row.get('refreshed')}, newest floor "
            f"{row.get('newest_floor') or 'none'}: {row.get('state')}"
        )
        if row.get("state") in ("due", "stale"):
            typer.echo(f"  {row.get('message')}")


@app.command()
def enroll(config: ConfigOption = None) -> None:
    """Exchange the enroll secret for a device key now (the service also does this by itself)."""
    from agent.compose import build_agent, require_collector

    with _explained_errors():
        settings = _settings(config)
        require_collector(settings)
        agent = build_agent(settings)
        try:
            assert agent.enroller is not None
            credentials = agent.enroller.enroll()
        finally:
            agent.close()
    typer.echo(f"enrolled as device {credentials.device_id} with {credentials.collector_url}")


@config_app.command("show")
def config_show(output: FormatOption = Format.table, config: ConfigOption = None) -> None:
    """Print the effective settings, secrets masked, and which config file was read."""
    import json

    from agent.settings import config_file_path, masked

    with _explained_errors():
        settings = _settings(config)
    path, _ = config_file_path(config)
    data = masked(settings)
    data["config_file"] = f"{path} ({'read' if path.exists() else 'not present'})"
    if output is Format.json:
        typer.echo(json.dumps(data, indent=2))
        return
    for name, value in data.items():
        typer.echo(f"{name} = {json.dumps(value)}")


def main() -> None:
    app(prog_name="fleetward-agent")


if __name__ == "__main__":
    main()
