"""``fleetward infra``: review the estate offline. Mounted by fleetward/cli.py as a Typer sub-app.

Module-level imports are Typer and the standard library only; Pulumi loads when a plan runs.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Review the Azure estate offline (plan under mocks).", no_args_is_help=True)


class Format(enum.StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"


@app.callback()
def main() -> None:
    """Infrastructure commands."""


@app.command()
def plan(
    config: Annotated[Path, typer.Option("--config", help="Pulumi stack file to plan.")] = Path(
        "Pulumi.example.yaml"
    ),
    output_format: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.table,
    now: Annotated[
        datetime | None,
        typer.Option(
            help="Plan as if deployed at this UTC time (the token expiry is computed from it); default now."
        ),
    ] = None,
) -> None:
    """Run the program under mocks and list every resource it would create, with the policy verdicts."""
    from infra import program
    from infra.errors import ConfigError
    from infra.offline import run_offline
    from infra.plan import build_plan, render_json, render_markdown, render_table
    from infra.stack_file import read_stack_file

    if not config.is_file():
        typer.echo(f"{config}: no such stack file; pass --config Pulumi.<stack>.yaml", err=True)
        raise typer.Exit(2)
    moment = (now.replace(tzinfo=UTC) if now and now.tzinfo is None else now) or datetime.now(UTC)
    stack = read_stack_file(config)
    try:
        run = run_offline(lambda: program.run(now=moment), stack.config, secret_keys=stack.secret_keys)
    except ConfigError as exc:
        for issue in exc.issues:
            typer.echo(str(issue), err=True)
        raise typer.Exit(1) from exc
    result = build_plan(run)
    if output_format is Format.json:
        typer.echo(render_json(result))
    elif output_format is Format.markdown:
        typer.echo(render_markdown(result))
    else:
        from rich.console import Console

        Console(width=200).print(render_table(result))
    if stack.stand_ins:
        typer.echo(f"stand-in values used for secret keys: {', '.join(stack.stand_ins)}", err=True)
    if not result.passed:
        typer.echo(f"{len(result.verdicts)} mandatory policy violation(s)", err=True)
        raise typer.Exit(1)
