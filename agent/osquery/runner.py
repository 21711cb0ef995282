"""Running SQL on the laptop's osquery: the `QueryRunner` seam and its Thrift adapter.

`ThriftRunner` talks to a running osqueryd through its extension socket with osquery-python's
`ExtensionClient`. osqueryd restarts under its watchdog (200 MB / 10% CPU by default), so a
transport error closes the connection and reopens it once before the query is given up as an error.
A query that does not answer within the per-query timeout is an error, and the connection is dropped
because a late answer would otherwise be read as the reply to the next query.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from agent.errors import OsqueryUnavailable
from agent.osquery.values import Row, rows_from_osquery
from fleetward.errors import QueryError


class QueryRunner(Protocol):
    """Runs one osquery SQL statement. Raises QueryError (never returns a partial answer)."""

    def query(self, sql: str) -> list[Row]: ...

    def close(self) -> None: ...


ClientFactory = Callable[[str], Any]


def _extension_client(path: str) -> Any:
    from osquery.extension_client import ExtensionClient

    return ExtensionClient(path)


class ThriftRunner:
    """osqueryd over its extension socket (Unix socket, or named pipe on Windows)."""

    def __init__(
        self,
        sockets: Sequence[str],
        *,
        query_timeout: float,
        connect_timeout: float = 1.0,
        reconnect_timeout: float = 6.0,
        client_factory: ClientFactory = _extension_client,
    ) -> None:
        self._sockets = list(sockets)
        self._query_timeout = query_timeout
        self._connect_timeout = connect_timeout
        # osqueryd's watchdog respawns it after 5 s (respawn delay): wait that long for it to return.
        self._reconnect_timeout = reconnect_timeout
        self._client_factory = client_factory
        self._client: Any = None
        self.connected_to: str | None = None
        self.reconnects = 0

    def open(self, wait: float | None = None) -> str:
        """Connect to the first socket that answers, trying for `wait` seconds (connect_timeout).

        OsqueryUnavailable names every socket tried.
        """
        if self._client is not None and self.connected_to is not None:
            return self.connected_to
        if not self._sockets:
            raise OsqueryUnavailable([], "no osquery socket is configured")
        deadline = time.monotonic() + (self._connect_timeout if wait is None else wait)
        while True:
            for path in self._sockets:
                if not _may_exist(path):
                    continue
                client = self._client_factory(path)
                _set_timeout(client, self._query_timeout)
                if client.open(timeout=0.2, interval=0.05):
                    self._client, self.connected_to = client, path
                    return path
                client.close()
            if time.monotonic() >= deadline:
                raise OsqueryUnavailable(self._sockets)
            time.sleep(0.05)

    def query(self, sql: str) -> list[Row]:
        from thrift.Thrift import TException
        from thrift.transport.TTransport import TTransportException

        self.open()
        try:
            return self._ask(sql)
        except TTransportException as exc:
            self.close()
            if exc.type == TTransportException.TIMED_OUT:
                raise QueryError(
                    f"osquery did not answer within {self._query_timeout:g}s (query_timeout_seconds); "
                    "the query was abandoned"
                ) from exc
        except TException as exc:
            self.close()
            raise QueryError(f"osquery failed to answer: {exc}") from exc
        # The connection dropped: osqueryd is probably being restarted by its watchdog.
        self.reconnects += 1
        self.open(wait=self._reconnect_timeout)
        try:
            return self._ask(sql)
        except TException as exc:
            self.close()
            raise QueryError(f"osquery dropped the connection twice while answering: {exc}") from exc

    def close(self) -> None:
        client, self._client, self.connected_to = self._client, None, None
        if client is not None:
            client.close()

    def _ask(self, sql: str) -> list[Row]:
        response = self._client.extension_manager_client().query(sql)
        status = response.status
        if status is None or status.code != 0:
            message = (status.message if status is not None else "") or "osquery reported a failure"
            raise QueryError(message)
        return rows_from_osquery(response.response, source="osqueryd")


def _may_exist(path: str) -> bool:
    # Named pipes cannot be stat'ed reliably on Windows; let the client try them.
    return sys.platform == "win32" or os.path.exists(path)


def _set_timeout(client: Any, seconds: float) -> None:
    # ExtensionClient offers no timeout; its TSocket (inside a TBufferedTransport) does. The Windows
    # TPipe has none, which is why the service also runs each evaluation under an overall deadline.
    transport = getattr(client, "_transport", None)
    inner = getattr(transport, "_TBufferedTransport__trans", None)
    set_timeout = getattr(inner, "setTimeout", None)
    if callable(set_timeout):
        set_timeout(seconds * 1000.0)


class TimedRunner:
    """Wraps a runner and adds up the time spent waiting on osquery (for the benchmark)."""

    def __init__(self, inner: QueryRunner) -> None:
        self.inner = inner
        self.seconds_in_osquery = 0.0
        self.queries = 0

    def query(self, sql: str) -> list[Row]:
        started = time.perf_counter()
        try:
            return self.inner.query(sql)
        finally:
            self.seconds_in_osquery += time.perf_counter() - started
            self.queries += 1

    def close(self) -> None:
        self.inner.close()
