"""`fleetward policies lint|test` through the real CLI root, with its exit statuses."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from fleetward.cli import app
from fleetward.recorded.model import default_devices_dir

runner = CliRunner()
BROKEN = Path(__file__).parents[1] / "data" / "broken_policies"


def test_lint_of_the_shipped_catalogue_exits_0() -> None:
    result = runner.invoke(app, ["policies", "lint"])
    assert result.exit_code == 0, result.output


def test_lint_prints_path_line_message_and_exits_1(tmp_path: Path) -> None:
    from fleetward.policy.catalogue import default_policies_dir

    root = tmp_path / "policies"
    shutil.copytree(default_policies_dir(), root)
    shutil.copy(BROKEN / "unknown-column.yaml", root)
    result = runner.invoke(app, ["policies", "lint", str(root)])
    assert result.exit_code == 1
    assert f"{root / 'unknown-column.yaml'}:7: query does not compile" in result.output


# The recorded devices were captured on 15 Nov 2026, when the shipped Windows baseline (newest floor
# June 2026) is stale; on 1 Jul 2026 every shipped baseline holds the floor in force.
FRESH = ["--at", "2026-07-01T09:00:00Z"]


def test_compliant_device_exits_0_with_json_results() -> None:
    result = runner.invoke(
        app, ["policies", "test", "--device", "win11-25h2-ent-compliant", "--format", "json", *FRESH]
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert {"policy_id", "policy_version", "status", "evidence", "error"} <= set(rows[0])
    assert {r["status"] for r in rows} == {"pass", "not_applicable"}


def test_failing_device_exits_1_and_error_device_exits_2() -> None:
    assert runner.invoke(app, ["policies", "test", "-d", "win11-25h2-pro-aes-cbc", *FRESH]).exit_code == 1
    assert runner.invoke(app, ["policies", "test", "-d", "win11-24h2-ent-wmi-error", *FRESH]).exit_code == 2


def test_a_stale_baseline_is_an_error_naming_the_missing_floor_and_the_fix() -> None:
    result = runner.invoke(
        app,
        ["policies", "test", "-d", "win11-25h2-ent-compliant", "--format", "json"],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 2
    rows = {r["policy_id"]: r for r in json.loads(result.stdout)}
    patch = rows["patch-windows-build-current"]
    assert patch["status"] == "error"
    assert "baseline 'windows' is stale" in patch["error"]
    assert "2026-10-13 Patch Tuesday" in patch["error"]
    assert "fleetward policies baselines refresh" in patch["error"]
    assert rows["encryption-windows-bitlocker"]["status"] == "pass"
    assert "warning: baseline 'windows' is stale" in result.stderr


def test_device_can_be_a_file_and_at_moves_the_evaluation(tmp_path: Path) -> None:
    path = default_devices_dir() / "win11-25h2-ent-ubr-inside-window.yaml"
    assert runner.invoke(app, ["policies", "test", "-d", str(path)]).exit_code == 0
    later = runner.invoke(app, ["policies", "test", "-d", str(path), "--at", "2026-06-24T00:00:00Z"])
    assert later.exit_code == 1


def test_bad_input_is_a_clear_message_not_a_traceback() -> None:
    unknown = runner.invoke(app, ["policies", "test", "-d", "no-such-laptop"])
    assert unknown.exit_code == 2
    assert "neither a file nor a shipped device" in unknown.output
    naive = runner.invoke(app, ["policies", "test", "-d", "macos-26-compliant", "--at", "2026-11-15T09:00"])
    assert naive.exit_code == 2
    assert "no time zone" in naive.output
    neither = runner.invoke(app, ["policies", "test"])
    assert neither.exit_code == 2
    assert "--device" in neither.output


def test_all_prints_every_device_in_a_table() -> None:
    result = runner.invoke(app, ["policies", "test", "--all"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for path in default_devices_dir().glob("*.yaml"):
        assert path.stem in result.output
    assert "FAIL" in result.output
    assert "ERROR" in result.output
