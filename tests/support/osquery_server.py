"""The fake osqueryd for tests and the simulator: osquery's real Thrift ExtensionManager service on a
Unix socket, answering from a recorded device (see agent/osquery/recorded_server.py, where it lives so
that `fleetward-agent check --device FILE` can serve a recording too).

    with RecordedOsqueryd(device, short_socket_path()) as osqueryd:
        osqueryd.fail_queries("no such table: bitlocker_info", matching="bitlocker")
        osqueryd.hang_queries(matching="patches")
        osqueryd.crash_after(3, down_for=0.2)   # dies mid-run and comes back, like under its watchdog
        osqueryd.restart()
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from agent.osquery.recorded_server import RecordedOsqueryd, SqlEngine, serve_device_file

__all__ = ["RecordedOsqueryd", "SqlEngine", "serve_device_file", "short_socket_path"]


def short_socket_path(name: str = "osquery.em") -> Path:
    """A socket path short enough for AF_UNIX (pytest's tmp_path often is not)."""
    return Path(tempfile.mkdtemp(prefix="fw-osq-")) / name
