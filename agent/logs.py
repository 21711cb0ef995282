"""Where the agent's service loop logs, per OS, so IT finds it where they look for any service.

- **systemd (Ubuntu)**: stderr is the journal when `JOURNAL_STREAM` names the device and inode of our
  stderr (systemd.exec(5), "JOURNAL_STREAM"). Each line then starts with its syslog priority, `<3>`
  error .. `<7>` debug (sd-daemon(3)), which journald strips and stores as PRIORITY, so
  `journalctl -u fleetward-agent -p warning` works; journald adds the timestamp.
- **launchd (macOS)** and anywhere else: `log_file` (default on macOS /Library/Logs/fleetward/agent.log,
  shown by Console.app) through a RotatingFileHandler, 5 MiB x 3 files; stderr too when it is a terminal
  or no log file is set (launchd keeps stderr in the plist's StandardErrorPath, for crashes).
- **Windows service**: the Application event log, source `fleetward-agent`, through logging's
  NTEventLogHandler (pywin32); the MSI registers the source.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from pathlib import Path
from typing import TextIO

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JOURNAL_FORMAT = "<%(priority)d>%(name)s: %(message)s"
EVENT_LOG_SOURCE = "fleetward-agent"
EVENT_MESSAGE_FILE = r"%SystemRoot%\Microsoft.NET\Framework64\v4.0.30319\EventLogMessages.dll"
ROTATE_BYTES = 5 * 1024 * 1024
ROTATE_KEEP = 3
# sd-daemon(3) priorities
_PRIORITIES = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}


class JournalFormatter(logging.Formatter):
    """`<priority>logger: message`, one journal entry per line (continuation lines keep the priority)."""

    def __init__(self) -> None:
        super().__init__(JOURNAL_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        priority = _PRIORITIES.get(record.levelno, 6 if record.levelno < logging.WARNING else 3)
        record.priority = priority  # read by JOURNAL_FORMAT
        text = super().format(record)
        prefix = f"<{priority}>"
        return "\n".join(line if line.startswith(prefix) else prefix + line for line in text.splitlines())


def stderr_is_journal(stream: TextIO | None = None, environ: dict[str, str] | None = None) -> bool:
    """True when systemd connected our stderr to the journal (JOURNAL_STREAM is `device:inode`)."""
    value = (os.environ if environ is None else environ).get("JOURNAL_STREAM", "")
    device, _, inode = value.partition(":")
    if not (device.isdigit() and inode.isdigit()):
        return False
    try:
        stat = os.fstat((stream or sys.stderr).fileno())
    except (OSError, ValueError):
        return False
    return (stat.st_dev, stat.st_ino) == (int(device), int(inode))


def configure_logging(
    *, log_file: Path | None, windows_service: bool = False, level: int = logging.INFO
) -> list[logging.Handler]:
    """Set up the root logger for `run` (other commands print to the terminal and log nothing)."""
    handlers: list[logging.Handler] = []
    journal = not windows_service and stderr_is_journal()
    if windows_service:
        handlers.append(_event_log_handler())
    elif journal:
        to_journal = logging.StreamHandler(sys.stderr)
        to_journal.setFormatter(JournalFormatter())
        handlers.append(to_journal)
    if log_file is not None:
        handlers.append(_rotating_file(log_file))
    if not windows_service and not journal and (log_file is None or sys.stderr.isatty()):
        terminal = logging.StreamHandler(sys.stderr)
        terminal.setFormatter(logging.Formatter(LOG_FORMAT))
        handlers.append(terminal)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("thrift").setLevel(logging.CRITICAL)  # it logs every refused connect; we say it once
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return handlers


def _rotating_file(path: Path) -> logging.Handler:
    from agent.errors import SettingsError

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=ROTATE_BYTES, backupCount=ROTATE_KEEP, encoding="utf-8"
        )
    except OSError as exc:
        raise SettingsError(
            f"cannot write the log file {path} (log_file): {exc.strerror or exc}; create its folder for the "
            "agent's user or set log_file to another path"
        ) from None
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    return handler


def _event_log_handler() -> logging.Handler:  # pragma: no cover - Windows only (the MSI workflow)
    # The message file the MSI registers for the source: .NET's, whose every event id reads "%1", so
    # the event shows our text (pywin32's default, win32service.pyd, moves inside a frozen build).
    message_file = os.path.expandvars(EVENT_MESSAGE_FILE)
    handler = logging.handlers.NTEventLogHandler(
        EVENT_LOG_SOURCE, dllname=message_file, logtype="Application"
    )
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    return handler
