"""The fallback: `osqueryi --json` as a subprocess, for laptops where osqueryd is not running.

Each query starts a fresh osqueryi (argv list, never a shell), bounded by the per-query timeout.
Slower than the socket, and it runs as the agent's user, so root-only tables (Linux
`disk_encryption`) may come back empty: the socket is the normal path.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from agent.errors import OsqueryUnavailable
from agent.osquery.values import Row, rows_from_osquery
from fleetward.errors import QueryError

_MAX_STDERR = 500


class OsqueryiRunner:
    def __init__(self, executable: str | Path, *, query_timeout: float) -> None:
        found = shutil.which(str(executable))
        if found is None:
            raise OsqueryUnavailable([str(executable)], "the osqueryi fallback executable was not found")
        self.executable = found
        self._query_timeout = query_timeout

    def query(self, sql: str) -> list[Row]:
        argv = [self.executable, "--json", sql]
        try:
            completed = subprocess.run(
                argv, capture_output=True, timeout=self._query_timeout, check=False, text=True
            )
        except subprocess.TimeoutExpired as exc:
            raise QueryError(
                f"osqueryi did not answer within {self._query_timeout:g}s (query_timeout_seconds)"
            ) from exc
        except OSError as exc:
            raise QueryError(f"cannot run {self.executable}: {exc}") from exc
        if completed.returncode != 0:
            message = completed.stderr.strip()[:_MAX_STDERR] or f"exit status {completed.returncode}"
            raise QueryError(message.removeprefix("Error: "))
        try:
            answer = json.loads(completed.stdout or "[]")
        except json.JSONDecodeError as exc:
            raise QueryError(f"osqueryi printed something that is not JSON: {exc}") from exc
        return rows_from_osquery(answer, source="osqueryi")

    def close(self) -> None:
        return None
