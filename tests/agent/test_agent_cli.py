"""`fleetward-agent` as a user runs it: check's exit status and formats, run stopping cleanly on
SIGTERM, status, config show with secrets masked, and an entry point that stays light."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleetward.recorded import load_device
from fleetward.recorded.model import default_devices_dir
from tests.support.osquery_server import RecordedOsqueryd, short_socket_path

AGENT = [sys.executable, "-m", "agent.cli"]
DEVICES = default_devices_dir()
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    config = tmp_path / "agent.toml"
    config.write_text(f'state_dir = "{tmp_path / "state"}"\n')
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FLEETWARD_")}
    return {**clean, "FLEETWARD_CONFIG_FILE": str(config)}


def agent(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*AGENT, *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT)


@pytest.mark.parametrize(
    ("device", "expected"),
    # Linux: the only shipped baseline still fresh today (Windows and macOS are stale, see below).
    [("ubuntu-2404-compliant", 0), ("ubuntu-2204-luks-data-only", 1), ("win11-24h2-ent-wmi-error", 2)],
)
def test_check_exit_status_is_0_pass_1_fail_2_error(device: str, expected: int, env: dict[str, str]) -> None:
    done = agent("check", "--device", str(DEVICES / f"{device}.yaml"), "--format", "json", env=env)
    assert done.returncode == expected, done.stderr
    results = json.loads(done.stdout)
    assert {"policy_id", "policy_version", "status", "evidence", "error"} <= results[0].keys()


def test_check_shows_each_baseline_provenance_and_a_stale_one_is_an_error(env: dict[str, str]) -> None:
    done = agent("check", "--device", str(DEVICES / "win11-25h2-ent-compliant.yaml"), env=env)
    assert done.returncode == 2, done.stderr
    assert "baseline windows: refreshed 2026-06-23, newest floor 2026-06-09" in done.stdout
    assert "warning: baseline 'windows' is stale" in done.stderr
    assert "fleetward policies baselines refresh" in done.stderr
    as_json = agent(
        "check", "--device", str(DEVICES / "win11-25h2-ent-compliant.yaml"), "--format", "json", env=env
    )
    patch = next(r for r in json.loads(as_json.stdout) if r["policy_id"] == "patch-windows-build-current")
    assert patch["status"] == "error"
    assert "2026-11-10 Patch Tuesday" in patch["error"]


def test_check_against_a_running_osqueryd_socket(env: dict[str, str]) -> None:
    socket = short_socket_path()
    with RecordedOsqueryd(load_device(DEVICES / "ubuntu-2404-compliant.yaml"), socket):
        done = agent("check", "--osquery-socket", str(socket), env=env)
    assert done.returncode == 0, done.stderr
    assert "encryption-linux-root-luks" in done.stdout
    assert "pass" in done.stdout


def test_check_without_osquery_explains_what_was_tried_and_how_to_install(
    env: dict[str, str], tmp_path: Path
) -> None:
    done = agent("check", "--osquery-socket", str(tmp_path / "osquery.em"), env=env)
    assert done.returncode == 2
    assert str(tmp_path / "osquery.em") in done.stderr
    assert "osquery.io/downloads" in done.stderr
    assert "Traceback" not in done.stderr


def test_bad_settings_are_a_message_not_a_traceback(env: dict[str, str]) -> None:
    done = agent("config", "show", env={**env, "FLEETWARD_QUERY_TIMEOUT_SECONDS": "-1"})
    assert done.returncode == 2
    assert "query_timeout_seconds" in done.stderr
    assert "Traceback" not in done.stderr


def test_config_show_masks_secrets_and_names_the_file(env: dict[str, str]) -> None:
    done = agent(
        "config", "show", "--format", "json", env={**env, "FLEETWARD_ENROLL_SECRET": "super-secret-value"}
    )
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert shown["enroll_secret"] == "**********"
    assert "super-secret-value" not in done.stdout
    assert shown["config_file"] == f"{env['FLEETWARD_CONFIG_FILE']} (read)"


@pytest.fixture
def osqueryd() -> Iterator[RecordedOsqueryd]:
    with RecordedOsqueryd(
        load_device(DEVICES / "win11-25h2-ent-compliant.yaml"), short_socket_path()
    ) as server:
        yield server


def test_run_evaluates_at_once_and_stops_cleanly_on_sigterm(
    env: dict[str, str], osqueryd: RecordedOsqueryd
) -> None:
    run_env = {**env, "FLEETWARD_OSQUERY_SOCKETS": str(osqueryd.socket_path)}
    proc = subprocess.Popen([*AGENT, "run"], env=run_env, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stderr is not None
    deadline = time.monotonic() + 60
    for line in proc.stderr:
        if "evaluated" in line or time.monotonic() > deadline:
            break
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    rest = proc.stderr.read()
    assert "stopping after the current step" in rest
    status = agent("status", "--format", "json", env=env)
    assert status.returncode == 0, status.stderr
    shown = json.loads(status.stdout)
    assert shown["outbox_depth"] == 1  # the first snapshot, waiting: no collector configured
    assert shown["enrolled"] is False
    assert shown["last_evaluation"]["platform"] == "windows"
    text = agent("status", env=env).stdout
    assert "baseline windows: refreshed " in text
    assert "{" not in text  # plain words, no Python reprs
    assert "[" not in text


def test_importing_the_entry_point_loads_no_server_or_infra_modules() -> None:
    code = "import json, sys, agent.cli; print(json.dumps(sorted(sys.modules)))"
    loaded = set(json.loads(subprocess.check_output([sys.executable, "-c", code], cwd=ROOT, text=True)))
    heavy = {
        "fastapi",
        "sqlalchemy",
        "pulumi",
        "pulumi_azure_native",
        "matplotlib",
        "uvicorn",
        "starlette",
        "collector",
        "infra",
    }
    assert not heavy & {name.split(".")[0] for name in loaded}


def test_version_names_the_agent_and_its_release(env: dict[str, str]) -> None:
    from fleetward import __version__

    done = agent("--version", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"fleetward-agent {__version__}"


def test_status_is_read_only_and_says_what_it_knows_before_the_first_run(
    env: dict[str, str], tmp_path: Path
) -> None:
    from fleetward import __version__

    shown = agent("status", env=env)
    assert shown.returncode == 0, shown.stderr
    assert not (tmp_path / "state").exists()  # neither the state directory nor the database was created
    lines = dict(line.split(": ", 1) for line in shown.stdout.splitlines())
    assert lines["agent version"] == __version__
    assert lines["active bundle"].startswith("the catalogue installed with the agent (digest ")
    assert lines["state database"].endswith("(not created yet: the service has not run)")
    assert lines["outbox depth"] == "0"
    assert "{" not in shown.stdout  # plain words, no Python dict reprs
    data = json.loads(agent("status", "--format", "json", env=env).stdout)
    assert data["agent_version"] == __version__
    assert {"active_bundle", "last_delivery", "outbox_depth", "dead_letters"} <= data.keys()


def test_status_opens_an_existing_database_without_changing_it(env: dict[str, str], tmp_path: Path) -> None:
    from agent.outbox import Outbox
    from agent.store import Database
    from fleetward.clock import SystemClock
    from fleetward.wire import EventKind

    db = Database.in_state_dir(tmp_path / "state")
    outbox = Outbox(db, max_entries=10, max_bytes=1 << 20, clock=SystemClock())
    outbox.record_event(EventKind.OSQUERY_UNAVAILABLE, "at boot")
    db.close()
    before = (tmp_path / "state" / "agent.db").read_bytes()
    shown = agent("status", "--format", "json", env=env)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["state_database"] == str(tmp_path / "state" / "agent.db")
    assert (tmp_path / "state" / "agent.db").read_bytes() == before


def test_check_explains_each_non_pass_with_evidence_error_and_remediation(env: dict[str, str]) -> None:
    done = agent("check", "--device", str(DEVICES / "ubuntu-2404-osquery-not-root.yaml"), env=env)
    assert done.returncode == 2, done.stderr
    section = done.stdout.split("encryption-linux-root-luks: error", 1)[1].split("\n\n", 1)[0]
    assert "why: osqueryd is not running as root" in section
    assert "run it as root (systemd unit osqueryd.service" in section
    assert "error: row 0:" in section
    assert "evidence: path='/'" in section
    assert "remediation: Encryption is chosen at install time" in section
    as_json = agent(
        "check", "--device", str(DEVICES / "macos-15-filevault-off.yaml"), "--format", "json", env=env
    )
    failed = [r for r in json.loads(as_json.stdout) if r["status"] == "fail"]
    assert failed
    assert all(r["remediation"] and r["evidence"] for r in failed)
    passed = [r for r in json.loads(as_json.stdout) if r["status"] == "pass"]
    assert all(r["remediation"] is None and r["explanation"] is None for r in passed)


def test_osqueryd_absent_at_start_is_tried_again_within_a_minute(env: dict[str, str]) -> None:
    socket = short_socket_path()
    run_env = {**env, "FLEETWARD_OSQUERY_SOCKETS": str(socket)}
    proc = subprocess.Popen([*AGENT, "run"], env=run_env, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stderr is not None
    seen: list[str] = []
    try:
        for line in proc.stderr:
            seen.append(line)
            if "trying again in 5 s" in line:
                break
        # osqueryd comes up after the agent, as at boot; the agent must not wait its 60-minute interval.
        with RecordedOsqueryd(load_device(DEVICES / "ubuntu-2404-compliant.yaml"), socket):
            for line in proc.stderr:
                seen.append(line)
                if "evaluated" in line:
                    break
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    text = "".join(seen)
    before, after = text.split("trying again in 5 s", 1)
    assert "cannot reach osquery" in before
    assert "evaluated" in after
