"""`fleetward infra plan`: offline review, secrets masked, invalid config exits 1 naming the key."""

from __future__ import annotations

import json
from pathlib import Path

from infra_support import small_stack_file
from typer.testing import CliRunner

from infra.cli import app
from infra.offline import STAND_IN_SECRET

NOW = "2026-11-21T12:00:00"


def small_stack(tmp_path: Path, **changes: object) -> Path:
    return small_stack_file(tmp_path, **changes)


def test_plan_lists_resources_and_verdicts_with_secrets_masked(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["plan", "--config", str(small_stack(tmp_path)), "--format", "json", "--now", NOW]
    )
    assert result.exit_code == 0, result.output
    assert STAND_IN_SECRET not in result.stdout
    plan = json.loads(result.stdout)
    assert plan["passed"] is True
    connection = next(r for r in plan["resources"] if r["type"].endswith("VirtualNetworkGatewayConnection"))
    assert connection["settings"]["sharedKey"] == "[secret]"
    assert plan["outputs"]["registrationToken"] == "[secret]"


def test_invalid_config_exits_1_naming_the_key(tmp_path: Path) -> None:
    stack = small_stack(tmp_path, **{"fleetward:location": "ukwest"})
    result = CliRunner().invoke(app, ["plan", "--config", str(stack), "--now", NOW])
    assert result.exit_code == 1
    assert "fleetward:location:" in result.output


def test_markdown_format(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["plan", "--config", str(small_stack(tmp_path)), "--format", "markdown", "--now", NOW]
    )
    assert result.exit_code == 0, result.output
    assert "| `azure-native:network:VirtualNetworkGateway` |" in result.stdout
    assert "All policies pass." in result.stdout


def test_the_table_shows_masked_secrets_as_secret_not_as_blank(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["plan", "--config", str(small_stack(tmp_path)), "--now", NOW], env={"COLUMNS": "400"}
    )
    assert result.exit_code == 0, result.output
    assert 'sharedKey="[secret]"' in result.stdout
    assert STAND_IN_SECRET not in result.stdout
