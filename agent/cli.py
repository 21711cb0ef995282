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
    import threading
    from datetime import datetime

    from agent.settings import AgentSettings
    from fleetward.policy.catalogue import Catalogue
    from fleetward.policy.model import Policy
    from fleetward.policy.verdict import Result

EXIT_OK, EXIT_FAIL, EXIT_ERROR = 0, 1, 2
EVIDENCE_SHOWN = 5  # rows per non-pass in the table output; JSON has them all

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


def _print_version(value: bool) -> None:
    if value:
        from fleetward import __version__

        typer.echo(f"fleetward-agent {__version__}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the agent's version and exit."
        ),
    ] = False,
) -> None:
    """The fleetward laptop agent: evaluates compliance policies with osquery and reports drift."""


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

    from agent.compose import load_agent_catalogue

    with _explained_errors():
        settings = _settings(config)
        catalogue = load_agent_catalogue(settings, policies)
        results = _evaluate_once(settings, catalogue, osquery_socket, device)
    by_id = {p.id: p for p in catalogue.policies}
    if output is Format.json:
        import json

        typer.echo(json.dumps([_result_data(r, by_id[r.policy_id]) for r in results], indent=2))
    else:
        _print_results(results, by_id)
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


def _result_data(result: Result, policy: Policy) -> dict[str, Any]:
    from agent.explain import explain

    data = result.model_dump(mode="json")
    failed = result.status.value in {"fail", "error"}
    data["explanation"] = explain(policy, result)
    data["remediation"] = policy.remediation if failed else None
    return data


def _evaluate_once(
    settings: AgentSettings, catalogue: Catalogue, sockets: list[str] | None, device: Path | None
) -> list[Result]:
    from agent.compose import runner_factory
    from agent.evaluation import Evaluator, RunnerFactory
    from fleetward.clock import SystemClock

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
    return evaluator.evaluate().results


def _exit_status(results: list[Result]) -> int:
    statuses = {r.status.value for r in results}
    if "error" in statuses:
        return EXIT_ERROR
    return EXIT_FAIL if "fail" in statuses else EXIT_OK


def _print_results(results: list[Result], policies: dict[str, Policy]) -> None:
    """A table of every verdict, then for each fail and error: why, what osquery returned, what to do."""
    from rich.console import Console
    from rich.table import Table

    colours = {"pass": "green", "fail": "red", "error": "magenta", "not_applicable": "dim"}
    table = Table("policy", "status", "title")
    for r in results:
        table.add_row(
            r.policy_id, f"[{colours[r.status.value]}]{r.status.value}[/]", policies[r.policy_id].title
        )
    Console(highlight=False).print(table)
    for r in results:
        if r.status.value in {"fail", "error"}:
            typer.echo("\n" + _explained(r, policies[r.policy_id]))


def _explained(result: Result, policy: Policy) -> str:
    """One non-pass in plain lines: why (known causes in words), osquery's error, evidence, what to do."""
    data = _result_data(result, policy)
    lines = [f"{result.policy_id}: {result.status.value} ({policy.title})"]
    if data["explanation"]:
        lines.append(f"  why: {data['explanation']}")
    if result.error:
        lines.append(f"  error: {result.error}")
    for row in result.evidence[:EVIDENCE_SHOWN]:
        lines.append("  evidence: " + ", ".join(f"{k}={v!r}" for k, v in row.items()))
    hidden = len(result.evidence) - EVIDENCE_SHOWN
    if hidden > 0 or result.evidence_truncated:
        lines.append(f"  evidence: ... {max(hidden, 0)} more rows (`--format json` shows them)")
    if not result.evidence:
        lines.append("  evidence: osquery returned no rows")
    lines.append(f"  remediation: {' '.join(policy.remediation.split())}")
    return "\n".join(lines)


@app.command()
def run(config: ConfigOption = None) -> None:
    """Run the service loop: evaluate on a schedule, report drift, deliver the outbox. Stops on SIGTERM.

    Logs to the journal under systemd, to log_file (macOS default /Library/Logs/fleetward/agent.log),
    else to stderr.
    """
    import threading

    from agent.scheduler import stop_on_signals

    stop = threading.Event()
    stop_on_signals(stop)
    with _explained_errors():
        serve(_settings(config), stop=stop)


def serve(settings: AgentSettings, *, stop: threading.Event, windows_service: bool = False) -> None:
    """The service loop until `stop` is set (by SIGTERM, or the Windows service control manager)."""
    from agent.compose import build_agent
    from agent.logs import configure_logging
    from agent.scheduler import AgentLoop, Timings

    configure_logging(log_file=settings.log_file, windows_service=windows_service)
    agent = build_agent(settings, stop=stop)
    try:
        AgentLoop(agent.service, Timings.from_settings(settings), stop=stop).run()
    finally:
        agent.close()


@app.command(hidden=True)
def service() -> None:
    """Windows only: run as the `fleetward-agent` service (the MSI installs this command line)."""
    import sys

    if sys.platform != "win32":
        raise _fail("`service` runs the agent under the Windows service control manager; use `run` here")
    from agent.windows_service import dispatch

    dispatch()


@app.command()
def status(output: FormatOption = Format.table, config: ConfigOption = None) -> None:
    """Version, active policy bundle, last evaluation and delivery, outbox depth and dead letters.

    Only reads: the state database is opened read-only and never created.
    """
    from agent.status import status_of

    with _explained_errors():
        current = status_of(_settings(config))
    if output is Format.json:
        import json

        typer.echo(json.dumps(current.as_dict(), indent=2))
        return
    typer.echo(current.as_text())


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
