"""Every command validates the settings the same way, files included: an enroll secret that cannot be
right is a one-line error that never shows it, a bad trusted key stops `status` as it stops `run`,
and on POSIX a config file others can write or a secret file others can read is refused with the fix."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = [["check"], ["status"], ["enroll"], ["run"], ["config", "show"]]
posix_only = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "agent.toml"
    path.write_text(f'state_dir = "{tmp_path / "state"}"\ncollector_url = "http://127.0.0.1:9"\n')
    path.chmod(0o600)
    return path


def agent(args: list[str], config: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FLEETWARD_")}
    return subprocess.run(
        [sys.executable, "-m", "agent.cli", *args],
        env={**clean, "FLEETWARD_CONFIG_FILE": str(config), **env},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


@pytest.mark.parametrize(
    "secret", ["short77", "has a space in it", "tab\there-and-more", "naïve-secret-value"]
)
@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_malformed_enroll_secret_is_one_line_that_never_shows_it(
    command: list[str], secret: str, config: Path
) -> None:
    done = agent(command, config, FLEETWARD_ENROLL_SECRET=secret)
    assert done.returncode == 2
    assert secret not in done.stdout
    assert secret not in done.stderr
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert "enroll_secret" in done.stderr
    assert "FLEETWARD_ENROLL_SECRET" in done.stderr
    assert "Traceback" not in done.stderr


@posix_only
def test_a_malformed_secret_in_the_secret_file_is_refused_without_showing_it(
    config: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "enroll-secret"
    secret.write_text("tiny\n")
    secret.chmod(0o600)
    done = agent(["config", "show"], config, FLEETWARD_ENROLL_SECRET_FILE=str(secret))
    assert done.returncode == 2
    assert "tiny" not in done.stdout + done.stderr
    assert f"enroll_secret_file {secret}" in done.stderr
    assert "is 4 characters long" in done.stderr


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_refuses_a_trusted_key_that_is_not_ed25519(command: list[str], config: Path) -> None:
    done = agent(command, config, FLEETWARD_TRUSTED_BUNDLE_KEYS="c2hvcnQ=")
    assert done.returncode == 2
    assert "trusted_bundle_keys" in done.stderr
    assert "an Ed25519 public key is 32" in done.stderr
    assert "Traceback" not in done.stderr


@posix_only
@pytest.mark.parametrize("mode", [0o666, 0o664, 0o646])
def test_a_config_file_others_can_write_is_refused_with_the_fix(config: Path, mode: int) -> None:
    config.chmod(mode)
    done = agent(["status"], config)
    assert done.returncode == 2
    assert f"mode {mode:04o}" in done.stderr
    assert f"chmod 600 {config}" in done.stderr


@posix_only
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_a_secret_file_others_can_read_is_refused_with_the_fix(
    config: Path, tmp_path: Path, mode: int
) -> None:
    secret = tmp_path / "enroll-secret"
    secret.write_text("a-well-formed-secret-value\n")
    secret.chmod(mode)
    done = agent(["status"], config, FLEETWARD_ENROLL_SECRET_FILE=str(secret))
    assert done.returncode == 2
    assert f"chmod 600 {secret}" in done.stderr
    assert "a-well-formed-secret-value" not in done.stderr


@posix_only
def test_owner_only_files_are_accepted(config: Path, tmp_path: Path) -> None:
    secret = tmp_path / "enroll-secret"
    secret.write_text("a-well-formed-secret-value\n")
    secret.chmod(0o600)
    config.chmod(0o644)  # readable by others is fine: it holds no secret
    done = agent(["config", "show"], config, FLEETWARD_ENROLL_SECRET_FILE=str(secret))
    assert done.returncode == 0, done.stderr


def test_on_macos_the_mdm_profile_wins_over_the_config_file(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import plistlib

    import agent.settings as agent_settings

    managed = tmp_path / "io.fleetward.agent.plist"  # stands where macOS puts a profile's payload
    managed.write_bytes(
        plistlib.dumps({"PayloadUUID": "ignored", "practice": "F81002", "interval_minutes": 30})
    )
    config.write_text(f'state_dir = "{tmp_path / "state"}"\npractice = "F81001"\nheartbeat_minutes = 90\n')
    for name in list(os.environ):
        if name.startswith("FLEETWARD_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("FLEETWARD_CONFIG_FILE", str(config))
    monkeypatch.setattr(agent_settings, "MANAGED_PREFERENCES", managed)
    monkeypatch.setattr(sys, "platform", "darwin")
    settings = agent_settings.load_settings()
    assert settings.practice == "F81002"  # the profile over the file
    assert settings.interval_minutes == 30
    assert settings.heartbeat_minutes == 90  # the file still counts where the profile is silent
    monkeypatch.setenv("FLEETWARD_PRACTICE", "F81003")
    assert agent_settings.load_settings().practice == "F81003"  # the environment over the profile
