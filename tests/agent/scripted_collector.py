"""A real HTTP server on loopback that answers like the collector, scripted per test.

For unit tests of the agent's delivery logic without the collector's dependencies; the end-to-end
tests in tests/e2e use the real collector. Unscripted requests get the collector's normal answers:
enrollment issues a key, a report is acknowledged, a repeated report id is a duplicate.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Scripted:
    status: int
    body: dict[str, object]
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


class ScriptedCollector:
    def __init__(self) -> None:
        self.script: dict[str, deque[Scripted]] = {"/v1/enroll": deque(), "/v1/reports": deque()}
        self.accepted: list[str] = []  # report ids ingested, in order
        self.attempts: list[str] = []  # every report id posted
        self.auth: list[str] = []
        self.keys_issued: list[str] = []
        self.valid_keys: set[str] = set()
        self.poisoned: set[str] = set()  # report ids answered 500 every time, as a collector bug would
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def then(
        self,
        path: str,
        status: int,
        code: str = "x",
        *,
        delay: float = 0.0,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.script[path].append(
            Scripted(status, {"code": code, "message": f"scripted {status}"}, delay, headers or {})
        )

    def revoke_keys(self) -> None:
        self.valid_keys.clear()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return None

            def do_POST(self) -> None:
                if self.path not in collector.script:  # as a collector without the route answers
                    return self._send(404, {"code": "not_found", "message": f"no route {self.path}"})
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                if self.path == "/v1/reports":
                    collector.attempts.append(body["report_id"])
                    collector.auth.append(self.headers.get("Authorization", ""))
                if self.path == "/v1/reports" and body["report_id"] in collector.poisoned:
                    return self._send(500, {"code": "internal_error", "message": "failed unexpectedly"})
                queue = collector.script.get(self.path)
                if queue:
                    scripted = queue.popleft()
                    time.sleep(scripted.delay)
                    return self._send(scripted.status, scripted.body, scripted.headers)
                if self.path == "/v1/enroll":
                    key = f"key-{len(collector.keys_issued) + 1}"
                    collector.keys_issued.append(key)
                    collector.valid_keys.add(key)
                    return self._send(200, {"device_id": "dev-1", "device_key": key, "reenrolled": False})
                if self.headers.get("Authorization", "").removeprefix("Bearer ") not in collector.valid_keys:
                    return self._send(401, {"code": "device_key_invalid", "message": "enroll again"})
                duplicate = body["report_id"] in collector.accepted
                if not duplicate:
                    collector.accepted.append(body["report_id"])
                return self._send(
                    200, {"report_id": body["report_id"], "duplicate": duplicate, "transitions": 0}
                )

            def _send(
                self, status: int, payload: dict[str, object], headers: dict[str, str] | None = None
            ) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in (headers or {}).items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the agent gave up waiting (timeout test)

        return Handler

    def start(self) -> ScriptedCollector:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def scripted_collector() -> Iterator[ScriptedCollector]:
    collector = ScriptedCollector().start()
    try:
        yield collector
    finally:
        collector.stop()
