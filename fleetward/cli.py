"""`fleetward`: the command line of the platform team and the auditors.

This is a composition root. Sub-commands live beside the code they drive and are mounted here;
each keeps its heavy imports (FastAPI, SQLAlchemy, Pulumi) inside its command functions so that
`fleetward --help` stays fast and works with only the extras that are installed.
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="fleetward",
    help="Remote-working estate of NHS GP practices as code, and proof that every laptop stays safe.",
    no_args_is_help=True,
    add_completion=False,
)

# (module, attribute, command name, help); a sub-app whose extra is not installed is still listed.
_SUBAPPS: list[tuple[str, str, str, str]] = [
    ("fleetward.cli_policies", "app", "policies", "Lint the policy catalogue and test it against devices."),
    ("collector.cli", "app", "collector", "Run and administer the collector service."),
    ("collector.reports.cli", "app", "report", "Compliance reports for auditors."),
    ("infra.cli", "app", "infra", "Review the Azure estate offline (plan under mocks)."),
    ("fleetward.cli_keys", "app", "keys", "Signing keys for policy bundles."),
    ("fleetward.sim.cli", "simulate_app", "simulate", "Run a simulated fleet against a collector."),
    ("fleetward.sim.cli", "demo_app", "demo", "The whole system end to end on embedded defaults."),
]


def _mount() -> None:
    for module_name, attribute, name, help_text in _SUBAPPS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and (exc.name == module_name or module_name.startswith(exc.name + ".")):
                continue  # not built yet in this checkout
            raise
        sub = getattr(module, attribute)
        if isinstance(sub, typer.Typer):
            app.add_typer(sub, name=name, help=help_text)
        else:
            app.command(name=name, help=help_text)(sub)


@app.command()
def version() -> None:
    """Print fleetward's version."""
    from fleetward import __version__

    typer.echo(__version__)


_mount()
# `fleetward policies bundle`: nested under policies, beside lint and test.
_bundle = importlib.import_module("fleetward.cli_bundle")
importlib.import_module("fleetward.cli_policies").app.add_typer(
    _bundle.app, name="bundle", help="Build, sign, verify and publish the signed policy bundle."
)
importlib.import_module("fleetward.cli_policies").app.add_typer(
    importlib.import_module("fleetward.cli_baselines").app,
    name="baselines",
    help="Show the patch baselines' provenance and freshness; refresh them from release data.",
)


def main() -> None:
    app()
