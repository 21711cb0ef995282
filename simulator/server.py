"""A collector on loopback inside this process, sharing the simulator's clock."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Self

from collector.store.ids import IdSource
from fleetward.clock import Clock


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class InProcessCollector:
    """uvicorn serving `collector.app.create_app` in a thread on 127.0.0.1."""

    def __init__(
        self, database_url: str, clock: Clock, *, validity_days: int = 30, ids: IdSource | None = None
    ) -> None:
        import uvicorn

        from collector.app import create_app
        from collector.settings import CollectorSettings

        settings = CollectorSettings(
            database_url=database_url,
            validity=f"P{validity_days}D",
            # The simulator is one client sending for many laptops: no per-device throttling.
            device_rate_per_minute=100_000,
            device_rate_burst=100_000,
        )
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(settings, clock=clock, ids=ids),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            access_log=False,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="fleetward-collector", daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the in-process collector did not start; see the messages above")
            time.sleep(0.02)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
