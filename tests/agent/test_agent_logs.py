"""Where `run` logs: the journal under systemd (syslog priority prefixes on stderr, only when
JOURNAL_STREAM really names our stderr), a rotating log file when one is set (macOS default), and the
Windows Application event log when running as a Windows service."""

from __future__ import annotations

import logging
import logging.handlers
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.logs import ROTATE_BYTES, ROTATE_KEEP, JournalFormatter, configure_logging, stderr_is_journal

ROOT = Path(__file__).resolve().parents[2]
# `run` is stopped with SIGTERM here; on Windows the service control manager stops it instead.
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM and the journal are POSIX")


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    yield root
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    for handler in saved:
        root.addHandler(handler)
    root.setLevel(level)


def _run_until(stderr_file: Path, env: dict[str, str], marker: str, watch: Path | None = None) -> str:
    """`run` with no osqueryd, stderr into a file, until `marker` is in `watch` (default: that file);
    then SIGTERM. Returns what stderr received."""
    watched = watch or stderr_file
    with stderr_file.open("w") as stream:
        stat = os.fstat(stream.fileno())
        journal = env.pop("JOURNAL_STREAM", None)
        if journal == "ours":
            env["JOURNAL_STREAM"] = f"{stat.st_dev}:{stat.st_ino}"
        elif journal is not None:
            env["JOURNAL_STREAM"] = journal
        proc = subprocess.Popen([sys.executable, "-m", "agent.cli", "run"], env=env, stderr=stream, cwd=ROOT)
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and not (watched.exists() and marker in watched.read_text()):
                time.sleep(0.2)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
    return stderr_file.read_text()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    config = tmp_path / "agent.toml"
    config.write_text(f'state_dir = "{tmp_path / "state"}"\nosquery_sockets = ["{tmp_path / "absent.em"}"]\n')
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("FLEETWARD_", "JOURNAL_"))}
    return {**clean, "FLEETWARD_CONFIG_FILE": str(config)}


@posix_only
def test_under_systemd_each_line_carries_its_journal_priority(env: dict[str, str], tmp_path: Path) -> None:
    text = _run_until(tmp_path / "stderr", {**env, "JOURNAL_STREAM": "ours"}, "trying again")
    lines = text.splitlines()
    assert any(line.startswith("<3>fleetward.agent: cannot reach osquery") for line in lines), text
    assert any(line.startswith("<6>fleetward.agent: osquery did not answer at start") for line in lines)
    assert all(line.startswith("<") for line in lines)  # journald adds the time; we add none


@posix_only
def test_a_journal_stream_that_is_not_our_stderr_is_ignored(env: dict[str, str], tmp_path: Path) -> None:
    text = _run_until(tmp_path / "stderr", {**env, "JOURNAL_STREAM": "1:2"}, "trying again")
    assert "<3>" not in text
    assert " ERROR fleetward.agent: cannot reach osquery" in text


def test_stderr_is_journal_compares_device_and_inode(tmp_path: Path) -> None:
    with (tmp_path / "stream").open("w") as stream:
        stat = os.fstat(stream.fileno())
        assert stderr_is_journal(stream, {"JOURNAL_STREAM": f"{stat.st_dev}:{stat.st_ino}"})
        assert not stderr_is_journal(stream, {"JOURNAL_STREAM": f"{stat.st_dev}:{stat.st_ino + 1}"})
        assert not stderr_is_journal(stream, {})


def test_a_multi_line_message_keeps_its_priority_on_every_line() -> None:
    record = logging.LogRecord("fleetward.agent", logging.WARNING, __file__, 1, "one\ntwo", None, None)
    assert JournalFormatter().format(record) == "<4>fleetward.agent: one\n<4>two"


def test_a_configured_log_file_rotates(root_logger: logging.Logger, tmp_path: Path) -> None:
    log_file = tmp_path / "logs" / "agent.log"
    handlers = configure_logging(log_file=log_file)
    rotating = [h for h in handlers if isinstance(h, logging.handlers.RotatingFileHandler)]
    assert len(rotating) == 1
    assert (rotating[0].maxBytes, rotating[0].backupCount) == (ROTATE_BYTES, ROTATE_KEEP)
    line = "x" * 1000
    for _ in range(ROTATE_BYTES // 1000 + 10):
        logging.getLogger("fleetward.agent").info(line)
    assert (tmp_path / "logs" / "agent.log.1").is_file()
    assert log_file.stat().st_size < ROTATE_BYTES
    assert not (tmp_path / "logs" / f"agent.log.{ROTATE_KEEP + 1}").exists()


@posix_only
def test_run_writes_the_log_file_setting(env: dict[str, str], tmp_path: Path) -> None:
    log_file = tmp_path / "agent.log"
    stderr = _run_until(
        tmp_path / "stderr", {**env, "FLEETWARD_LOG_FILE": str(log_file)}, "trying again", watch=log_file
    )
    assert "ERROR fleetward.agent: cannot reach osquery" in log_file.read_text()
    assert stderr == ""  # not a terminal: the file only (launchd keeps stderr for crashes)


@pytest.mark.skipif(sys.platform != "win32", reason="the Windows event log (runs in agent-packages.yml)")
def test_as_a_windows_service_it_logs_to_the_application_event_log(root_logger: logging.Logger) -> None:
    handlers = configure_logging(log_file=None, windows_service=True)
    assert [type(h) for h in handlers] == [logging.handlers.NTEventLogHandler]
    logging.getLogger("fleetward.agent").warning("event log test from the fleetward test suite")
