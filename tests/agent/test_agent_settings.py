"""Agent settings: precedence in code, OS conventions, validation that names the setting, secrets masked."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from agent.errors import SettingsError
from agent.settings import (
    default_config_file,
    default_osquery_sockets,
    default_state_dir,
    load_settings,
    masked,
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("FLEETWARD_"):
            monkeypatch.delenv(name)
    # Never read the machine's real /etc/fleetward/agent.toml from a test.
    monkeypatch.setenv("FLEETWARD_CONFIG_FILE", str(tmp_path / "agent.toml"))
    (tmp_path / "agent.toml").write_text("")


def write_config(tmp_path: Path, text: str, name: str = "agent.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_code_beats_environment_beats_file_beats_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(tmp_path, 'interval_minutes = 30\nheartbeat_minutes = 120\npractice = "F81001"\n')
    monkeypatch.setenv("FLEETWARD_HEARTBEAT_MINUTES", "90")
    monkeypatch.setenv("FLEETWARD_PRACTICE", "F81002")
    settings = load_settings(practice="F81003")
    assert settings.practice == "F81003"  # code
    assert settings.heartbeat_minutes == 90  # environment over file
    assert settings.interval_minutes == 30  # file over default
    assert settings.query_timeout_seconds == 30  # default


def test_yaml_config_file_by_extension(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_config(tmp_path, "collector_url: https://collector.example.nhs.uk/\n", "agent.yaml")
    monkeypatch.setenv("FLEETWARD_CONFIG_FILE", str(path))
    assert load_settings().collector_url == "https://collector.example.nhs.uk"


def test_config_file_given_in_code_is_used(tmp_path: Path) -> None:
    path = write_config(tmp_path, "osqueryi_fallback = true\n", "other.toml")
    assert load_settings(config_file=path).osqueryi_fallback is True


def test_socket_list_from_environment_as_commas_or_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEETWARD_OSQUERY_SOCKETS", "/var/osquery/osquery.em, /opt/orbit/orbit-osquery.em")
    assert load_settings().osquery_sockets == ["/var/osquery/osquery.em", "/opt/orbit/orbit-osquery.em"]
    monkeypatch.setenv("FLEETWARD_OSQUERY_SOCKETS", '["\\\\\\\\.\\\\pipe\\\\osquery.em"]')
    assert load_settings().osquery_sockets == [r"\\.\pipe\osquery.em"]


def test_os_conventions_for_files_and_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROGRAMDATA", r"D:\ProgramData")
    assert default_config_file("linux") == Path("/etc/fleetward/agent.toml")
    assert default_config_file("darwin") == Path("/Library/Application Support/fleetward/agent.toml")
    assert str(default_config_file("win32")).endswith("agent.toml")
    assert "ProgramData" in str(default_config_file("win32"))
    assert default_state_dir("linux") == Path("/var/lib/fleetward")
    assert default_osquery_sockets("linux")[0] == "/var/osquery/osquery.em"
    assert default_osquery_sockets("win32") == [r"\\.\pipe\osquery.em", r"\\.\pipe\orbit-osquery-extension"]


def test_plain_http_to_a_remote_collector_is_refused_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FLEETWARD_COLLECTOR_URL", "http://collector.example.nhs.uk")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert "collector_url" in message
    assert "FLEETWARD_COLLECTOR_URL" in message
    assert "use https" in message


def test_http_to_loopback_is_allowed() -> None:
    assert load_settings(collector_url="http://127.0.0.1:8080").collector_url == "http://127.0.0.1:8080"


def test_jitter_must_be_less_than_the_interval() -> None:
    with pytest.raises(SettingsError, match="jitter_minutes"):
        load_settings(interval_minutes=5, jitter_minutes=5)


def test_unknown_setting_in_the_file_is_an_error(tmp_path: Path) -> None:
    write_config(tmp_path, "intervall_minutes = 5\n")
    with pytest.raises(SettingsError, match="intervall_minutes"):
        load_settings()


def test_broken_toml_names_the_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, "interval_minutes = = 5\n")
    with pytest.raises(SettingsError, match=re.escape(str(path))):
        load_settings()


def test_named_config_file_that_does_not_exist_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLEETWARD_CONFIG_FILE", str(tmp_path / "missing.toml"))
    with pytest.raises(SettingsError, match=r"missing\.toml"):
        load_settings()


def test_secrets_are_masked_in_dumps_and_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEETWARD_ENROLL_SECRET", "s3cret-enroll-value")
    settings = load_settings()
    assert settings.enroll_secret_value() == "s3cret-enroll-value"
    assert "s3cret" not in repr(settings)
    assert masked(settings)["enroll_secret"] == "**********"
    assert "s3cret" not in str(masked(settings))


def test_enroll_secret_can_come_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "enroll-secret"
    secret.write_text("from-mdm-file-123\n")
    secret.chmod(0o600)  # the agent refuses a secret file others can read
    assert load_settings(enroll_secret_file=secret).enroll_secret_value() == "from-mdm-file-123"


def test_unreadable_enroll_secret_file_is_a_clear_error(tmp_path: Path) -> None:
    settings = load_settings(enroll_secret_file=tmp_path / "absent")
    with pytest.raises(SettingsError, match="enroll_secret_file"):
        settings.enroll_secret_value()
