"""A stand-in osqueryd: osquery's real Thrift `ExtensionManager` service on a Unix socket.

Answers `query(sql)` from a recorded device through `fleetward.recorded.RecordedEngine`, with the
same wire protocol, status codes and string values as osqueryd, so the agent's real
`osquery.ExtensionClient` cannot tell the difference. It can also misbehave the way a real
osqueryd does on a laptop: answer with an error, hang, or die and come back (the watchdog
restarting it), mid-request if asked.

Test-only (never shipped in the agent): used by the agent's tests, the end-to-end tests and bench/:

    with RecordedOsqueryd(device, socket_path) as osqueryd:
        ...  # ExtensionClient(str(socket_path)) talks to it
        osqueryd.restart()
"""

from __future__ import annotations

import os
import re
import socket
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self

from osquery.extensions import ExtensionManager
from osquery.extensions.ttypes import (
    ExtensionCode,
    ExtensionResponse,
    ExtensionStatus,
    InternalExtensionInfo,
)
from thrift.protocol import TBinaryProtocol
from thrift.transport import TSocket, TTransport

from fleetward.errors import QueryError
from fleetward.recorded.model import RecordedDevice

# AF_UNIX paths are limited to 108 bytes on Linux (104 on macOS).
MAX_SOCKET_PATH = 100
_ACCEPT_POLL_SECONDS = 0.05


class SqlEngine(Protocol):
    """What the server answers from: `fleetward.recorded.RecordedEngine` or anything shaped like it."""

    def query(self, sql: str) -> list[dict[str, str]]: ...

    def columns(self, sql: str) -> list[str]: ...


class _Handler(ExtensionManager.Iface):  # type: ignore[misc]
    """The ExtensionManager service: what osqueryd answers over its extension socket."""

    def __init__(self, server: RecordedOsqueryd) -> None:
        self._server = server

    def ping(self) -> ExtensionStatus:
        return ExtensionStatus(code=ExtensionCode.EXT_SUCCESS, message="OK", uuid=0)

    def call(self, registry: str, item: str, request: dict[str, str]) -> ExtensionResponse:
        return _failed(f"no plugin {registry}/{item} in this osqueryd")

    def shutdown(self) -> None:
        return None

    def extensions(self) -> dict[int, InternalExtensionInfo]:
        return {}

    def options(self) -> dict[str, object]:
        return {}

    def registerExtension(self, info: object, registry: object) -> ExtensionStatus:
        return ExtensionStatus(code=ExtensionCode.EXT_FAILED, message="extensions are not served here")

    def deregisterExtension(self, uuid: int) -> ExtensionStatus:
        return ExtensionStatus(code=ExtensionCode.EXT_FAILED, message="extensions are not served here")

    def query(self, sql: str) -> ExtensionResponse:
        return self._server._answer(sql)

    def getQueryColumns(self, sql: str) -> ExtensionResponse:
        try:
            names = self._server._columns(sql)
        except QueryError as exc:
            return _failed(str(exc))
        return ExtensionResponse(
            status=ExtensionStatus(code=ExtensionCode.EXT_SUCCESS, message="OK"),
            response=[{name: "TEXT"} for name in names],
        )


def _failed(message: str) -> ExtensionResponse:
    return ExtensionResponse(
        status=ExtensionStatus(code=ExtensionCode.EXT_FAILED, message=message), response=[]
    )


class RecordedOsqueryd:
    """A real Thrift ExtensionManager server answering from one recorded device.

    Misbehaviour, switchable at any time from the controlling thread:
    - `fail_queries(message, matching=None)`: answer with EXT_FAILED, like a failing table.
    - `hang_queries(matching=None)`: never answer (until `release()` or `stop()`).
    - `crash_after(n, down_for=0.0)`: answer n more queries, then drop every connection in the
      middle of the next one and come back after `down_for` seconds (osqueryd under its watchdog).
    - `restart(down_for=0.0)`: the same, now.
    - `answer_normally()`: back to plain answers.
    """

    def __init__(self, device: RecordedDevice | SqlEngine, socket_path: Path | str) -> None:
        self.socket_path = Path(socket_path)
        if len(str(self.socket_path)) > MAX_SOCKET_PATH:
            raise ValueError(
                f"socket path {self.socket_path} is {len(str(self.socket_path))} bytes; Unix sockets allow "
                f"about {MAX_SOCKET_PATH}: use a shorter directory such as one from tempfile.mkdtemp()"
            )
        if isinstance(device, RecordedDevice):
            from fleetward.recorded import RecordedEngine

            self._owned_engine: RecordedEngine | None = RecordedEngine(device)
            self._engine: SqlEngine = self._owned_engine
        else:
            self._owned_engine = None
            self._engine = device
        self._engine_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._processor = ExtensionManager.Processor(_Handler(self))
        self._listener: TSocket.TServerSocket | None = None
        self._accept_thread: threading.Thread | None = None
        self._running = threading.Event()
        self._clients: set[TSocket.TSocket] = set()
        self._release = threading.Event()
        self._fail: tuple[str, re.Pattern[str] | None] | None = None
        self._hang: re.Pattern[str] | None = None  # an empty pattern hangs every query
        self._crash_countdown: int | None = None
        self._crash_down_for = 0.0
        self._closed = False
        self.queries: list[str] = []
        self.restarts = 0

    # lifecycle ---------------------------------------------------------------------------------
    def start(self) -> Self:
        with self._state_lock:
            if self._closed:
                raise RuntimeError("this RecordedOsqueryd was stopped; make a new one")
            if not self._running.is_set():
                self._listen()
        return self

    def stop(self) -> None:
        """Stop serving for good (use `restart` to come back)."""
        with self._state_lock:
            self._closed = True
            self._shutdown()
        self._release.set()
        self._unlink()
        if self._owned_engine is not None:
            with self._engine_lock:
                self._owned_engine.close()
            self._owned_engine = None

    def restart(self, down_for: float = 0.0) -> None:
        """Drop every connection and listen again, as osqueryd does when its watchdog respawns it."""
        with self._state_lock:
            # Unlink first: hanging up wakes the client at once, and a reconnect must not reach the
            # old listener, which Linux keeps accepting while its accept() poll is still running.
            self._unlink()
            self._shutdown()
            self.restarts += 1
            if down_for <= 0:
                self._listen()
                return
        timer = threading.Timer(down_for, self._come_back)
        timer.daemon = True
        timer.start()

    def _come_back(self) -> None:
        with self._state_lock:
            if not self._closed and not self._running.is_set():
                self._listen()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._running.is_set()

    # misbehaviour ------------------------------------------------------------------------------
    def fail_queries(self, message: str = "osquery internal error", matching: str | None = None) -> None:
        self._fail = (message, re.compile(matching, re.IGNORECASE) if matching else None)

    def hang_queries(self, matching: str | None = None) -> None:
        self._release.clear()
        self._hang = re.compile(matching or "", re.IGNORECASE)

    def release(self) -> None:
        """Let hung queries answer."""
        self._hang = None
        self._release.set()

    def crash_after(self, queries: int, down_for: float = 0.0) -> None:
        self._crash_countdown = queries
        self._crash_down_for = down_for

    def answer_normally(self) -> None:
        self._fail = None
        self._crash_countdown = None
        self.release()

    # the service -------------------------------------------------------------------------------
    def _answer(self, sql: str) -> ExtensionResponse:
        self.queries.append(sql)
        if self._crash_countdown is not None:
            if self._crash_countdown <= 0:
                self._crash_countdown = None
                self.restart(self._crash_down_for)
                # Propagates through the Thrift processor: the caller sees its connection drop.
                raise TTransport.TTransportException(
                    TTransport.TTransportException.END_OF_FILE, "osqueryd restarted"
                )
            self._crash_countdown -= 1
        hang = self._hang
        if hang is not None and hang.search(sql):
            self._release.wait()
            if not self._running.is_set():
                raise TTransport.TTransportException(TTransport.TTransportException.END_OF_FILE, "stopped")
        if self._fail is not None:
            message, pattern = self._fail
            if pattern is None or pattern.search(sql):
                return _failed(message)
        try:
            with self._engine_lock:
                rows = self._engine.query(sql)
        except QueryError as exc:
            return _failed(str(exc))
        return ExtensionResponse(
            status=ExtensionStatus(code=ExtensionCode.EXT_SUCCESS, message="OK"), response=rows
        )

    def _columns(self, sql: str) -> list[str]:
        with self._engine_lock:
            return self._engine.columns(sql)

    # sockets -----------------------------------------------------------------------------------
    def _listen(self) -> None:
        self.socket_path.parent.mkdir(parents=True, exist_ok=True)
        listener = TSocket.TServerSocket(unix_socket=str(self.socket_path))
        listener.listen()
        assert listener.handle is not None
        # Polling accept keeps stop() portable: closing a socket does not wake accept() everywhere.
        listener.handle.settimeout(_ACCEPT_POLL_SECONDS)
        self._listener = listener
        self._running.set()
        thread = threading.Thread(target=self._accept_loop, args=(listener,), daemon=True, name="osqueryd")
        self._accept_thread = thread
        thread.start()

    def _accept_loop(self, listener: TSocket.TServerSocket) -> None:
        while self._running.is_set() and self._listener is listener:
            try:
                client = listener.accept()  # type: ignore[union-attr]  # thrift is untyped
            except (TimeoutError, OSError, AttributeError):
                continue
            if client.handle is None:
                continue
            client.handle.settimeout(None)
            with self._state_lock:
                if self._listener is not listener:
                    client.close()
                    return
                self._clients.add(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True, name="osqueryd-conn").start()

    def _serve(self, client: TSocket.TSocket) -> None:
        transport = TTransport.TBufferedTransport(client)
        protocol = TBinaryProtocol.TBinaryProtocol(transport)
        try:
            while True:
                self._processor.process(protocol, protocol)
        except (TTransport.TTransportException, OSError, EOFError):
            pass
        finally:
            with self._state_lock:
                self._clients.discard(client)
            client.close()

    def _shutdown(self) -> None:
        self._running.clear()
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        for client in list(self._clients):
            _hang_up(client)
        self._clients.clear()
        # The accept thread notices its listener is gone within one poll and ends by itself.
        self._accept_thread = None

    def _unlink(self) -> None:
        with suppress(FileNotFoundError):
            os.unlink(self.socket_path)


def _hang_up(client: TSocket.TSocket) -> None:
    handle = client.handle
    if handle is None:
        return
    # Shut down only: the connection's own thread wakes with EOF and closes it.
    with suppress(OSError):
        handle.shutdown(socket.SHUT_RDWR)


@contextmanager
def serve_device_file(device_file: Path, socket_path: Path) -> Iterator[RecordedOsqueryd]:
    """Serve a recorded-device YAML file (bench/agent_cycle.py runs it in its own process)."""
    from fleetward.recorded import load_device

    with RecordedOsqueryd(load_device(device_file), socket_path) as server:
        yield server


def short_socket_path(name: str = "osquery.em") -> Path:
    """A socket path short enough for AF_UNIX (pytest's tmp_path often is not)."""
    return Path(tempfile.mkdtemp(prefix="fw-osq-")) / name
