"""`fleetward` mounts what the `fleetward.commands` entry points register, naming no package itself."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest
import typer
from typer.testing import CliRunner

from fleetward.cli import COMMAND_ORDER, COMMANDS_GROUP, app, mount, registered_commands


def test_every_registered_command_is_mounted_in_order() -> None:
    assert [entry.name for entry in registered_commands()] == list(COMMAND_ORDER)
    listing = CliRunner().invoke(app, ["--help"]).output
    for name in COMMAND_ORDER:
        assert f" {name} " in listing, name


def test_a_command_whose_package_is_not_installed_is_left_out() -> None:
    target = typer.Typer()
    missing = EntryPoint("ghost", "no_such_package.cli:app", COMMANDS_GROUP)
    present = EntryPoint("keys", "fleetward.cli_keys:app", COMMANDS_GROUP)
    mount(target, [missing, present])
    assert [group.name for group in target.registered_groups] == ["keys"]


def test_an_entry_point_that_is_not_a_command_is_refused() -> None:
    with pytest.raises(TypeError, match="neither a Typer app nor a function"):
        mount(typer.Typer(), [EntryPoint("odd", "fleetward.cli:COMMANDS_GROUP", COMMANDS_GROUP)])
