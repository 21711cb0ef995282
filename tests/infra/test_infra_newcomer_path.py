"""Quickstart step 5 after `make demo`: the infra extra is installed and no sync command removes the others.

Finding: `make demo` synced only the agent and collector extras, so `fleetward infra plan` failed with
``ModuleNotFoundError: No module named 'pulumi'``; and the documented `uv sync --extra infra` is exact by
default, uninstalling every package of the other extras. The sync commands are checked with uv itself
(``--dry-run --offline`` against uv.lock: it reports what it would remove without touching .venv).
"""

from __future__ import annotations

import json
import re
import subprocess
from datetime import UTC, datetime

import pytest
from infra_support import ROOT, small_stack_file
from typer.testing import CliRunner

UV = ROOT / ".tools" / "bin" / "uv"
MAKEFILE = (ROOT / "Makefile").read_text()


def recipe(target: str) -> list[str]:
    match = re.search(rf"^{target}:.*\n((?:\t.*\n)+)", MAKEFILE, re.M)
    assert match, f"no make target {target}"
    return [line.strip().replace("$(UV)", "uv") for line in match.group(1).splitlines()]


def test_make_demo_installs_the_infra_extra_for_step_5() -> None:
    syncs = [line for line in recipe("demo") if line.startswith("uv sync")]
    assert syncs
    assert "--extra infra" in syncs[0]
    assert any("fleetward infra plan" in line for line in recipe("plan"))


def documented_syncs() -> list[str]:
    commands = [line for target in ("demo", "plan") for line in recipe(target) if line.startswith("uv sync")]
    for doc in ("quickstart.md", "platform-team.md"):
        text = (ROOT / "docs" / doc).read_text()
        commands += [
            m.replace(".tools/bin/uv", "uv") for m in re.findall(r"`((?:\.tools/bin/)?uv sync[^`]*)`", text)
        ]
    return commands


def _dry_run(command: str) -> str:
    args = command.split()[2:]
    result = subprocess.run(
        [str(UV), "sync", *args, "--dry-run", "--offline"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout + result.stderr


@pytest.mark.skipif(not UV.exists(), reason="uv is installed into .tools/ by make")
def test_no_documented_sync_removes_the_other_extras() -> None:
    commands = documented_syncs()
    assert any("--extra infra" in c for c in commands)
    for command in commands:
        removed = [line for line in _dry_run(command).splitlines() if line.startswith(" - ")]
        assert removed == [], f"`{command}` would uninstall {removed[:3]} ..."


@pytest.mark.skipif(not UV.exists(), reason="uv is installed into .tools/ by make")
def test_the_exact_sync_the_docs_used_to_give_would_remove_them() -> None:
    removed = [
        line for line in _dry_run("uv sync --locked --extra infra").splitlines() if line.startswith(" - ")
    ]
    assert any("fastapi" in line for line in removed)


def test_fleetward_infra_plan_runs_from_the_fleetward_cli_on_a_date_years_ahead(tmp_path: object) -> None:
    """Finding: the example's fixed token expiry failed every plan after 2026-12-15."""
    from fleetward.cli import app

    stack = small_stack_file(tmp_path)  # type: ignore[arg-type]
    future = datetime(2031, 6, 1, 9, 0, tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    result = CliRunner().invoke(
        app, ["infra", "plan", "--config", str(stack), "--now", future, "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    pool = next(r for r in plan["resources"] if r["type"] == "azure-native:desktopvirtualization:HostPool")
    assert pool["settings"]["registrationInfo"]["expirationTime"] == "2031-06-15T09:00:00Z"  # P14D later
    assert plan["passed"] is True
