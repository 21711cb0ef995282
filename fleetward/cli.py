"""`fleetward`: the command line of the platform team and the auditors.

The core names no package above it: sub-commands register themselves in the `fleetward.commands`
entry-point group (pyproject.toml) and are mounted here. Each keeps its heavy imports
(FastAPI, SQLAlchemy, Pulumi) inside its command functions so that `fleetward --help` stays fast and
works with only the extras that are installed.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points

import typer

COMMANDS_GROUP = "fleetward.commands"
# Entry points come back in no promised order; this is the order `fleetward --help` lists them in.
# A command not named here (a plug-in) follows, alphabetically.
COMMAND_ORDER = ("policies", "collector", "report", "infra", "keys", "simulate", "demo")

app = typer.Typer(
    name="fleetward",
    help="Remote-working estate of NHS GP practices as code, and proof that every laptop stays safe.",
    no_args_is_help=True,
    add_completion=False,
)


def _load(entry: EntryPoint) -> object | None:
    """The registered sub-app, or None when its package (an extra) is not installed."""
    module_name = entry.module
    try:
        loaded: object = entry.load()
        return loaded
    except ModuleNotFoundError as exc:
        if exc.name and (exc.name == module_name or module_name.startswith(exc.name + ".")):
            return None
        raise


def mount(target: typer.Typer, entries: list[EntryPoint]) -> None:
    """Mount each entry point as a command group (a Typer) or a single command (a function)."""
    for entry in entries:
        sub = _load(entry)
        if sub is None:
            continue
        if isinstance(sub, typer.Typer):
            target.add_typer(sub, name=entry.name)
        elif callable(sub):
            target.command(name=entry.name)(sub)
        else:
            raise TypeError(f"entry point {entry.name} = {entry.value} is neither a Typer app nor a function")


@app.command()
def version() -> None:
    """Print fleetward's version."""
    from fleetward import __version__

    typer.echo(__version__)


def registered_commands() -> list[EntryPoint]:
    """The `fleetward.commands` entry points, in COMMAND_ORDER."""

    def rank(entry: EntryPoint) -> tuple[int, str]:
        known = entry.name in COMMAND_ORDER
        return (COMMAND_ORDER.index(entry.name) if known else len(COMMAND_ORDER), entry.name)

    return sorted(entry_points(group=COMMANDS_GROUP), key=rank)


mount(app, registered_commands())
# `fleetward policies bundle|baselines`: nested under policies, beside lint and test.
from fleetward import cli_baselines, cli_bundle, cli_policies  # noqa: E402

cli_policies.app.add_typer(
    cli_bundle.app, name="bundle", help="Build, sign, verify and publish the signed policy bundle."
)
cli_policies.app.add_typer(
    cli_baselines.app,
    name="baselines",
    help="Show the patch baselines' provenance and freshness; refresh them from release data.",
)


def main() -> None:
    app()
