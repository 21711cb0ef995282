"""The real collector as a separate process on loopback (uvicorn), for the agent's end-to-end tests,
plus a flaky proxy in front of it that can answer 5xx, stall, or lose the answer after forwarding."""

from __future__ import annotations

import secrets
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
BATCH = "/v1/reports/batch"
LAUNCH = """
import sys, uvicorn
from collector.app import create_app
from collector.settings import CollectorSettings
from collector.store import migrate
settings = CollectorSettings()
migrate(settings.database_url_value())
uvicorn.run(create_app(settings), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class CollectorProcess:
    def __init__(self, folder: Path, **settings: str) -> None:
        self.settings = {f"FLEETWARD_{k.upper()}": v for k, v in settings.items()}
        self.database = folder / "collector.db"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.admin_token = "adm_" + secrets.token_urlsafe(24)
        self._proc: subprocess.Popen[bytes] | None = None
        self._log = folder / "collector.log"

    def start(self) -> CollectorProcess:
        env = {
            "FLEETWARD_DATABASE_URL": f"sqlite:///{self.database}",
            "FLEETWARD_BOOTSTRAP_ADMIN_TOKEN": self.admin_token,
            "PATH": "/usr/bin:/bin",
            **self.settings,
        }
        with self._log.open("ab") as log:
            self._proc = subprocess.Popen(
                [sys.executable, "-c", LAUNCH, str(self.port)], cwd=ROOT, env=env, stdout=log, stderr=log
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"the collector exited: {self._log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"the collector did not become ready: {self._log.read_text()[-2000:]}")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush; what was committed is all that is left."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(timeout=20)

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            self._proc.wait(timeout=20)

    def enroll_secret(self) -> str:
        response = httpx.post(
            f"{self.url}/v1/admin/enroll-secrets",
            json={"name": "e2e"},
            headers={"Authorization": f"Bearer {self.admin_token}"},
            timeout=10,
        )
        response.raise_for_status()
        return str(response.json()["secret"])

    def ingested(self) -> list[tuple[str, str, str]]:
        """(report_id, kind, observed_at) of every report the collector ingested, in arrival order."""
        with sqlite3.connect(f"file:{self.database}?mode=ro", uri=True) as db:
            rows = db.execute(
                "SELECT report_id, kind, observed_at FROM ingested_reports ORDER BY received_at, rowid"
            )
            return [(str(a), str(b), str(c)) for a, b, c in rows]

    def runs(self, policy_id: str) -> list[tuple[str, datetime]]:
        """(status, since) of each run of identical verdicts the collector recorded for the policy."""
        with sqlite3.connect(f"file:{self.database}?mode=ro", uri=True) as db:
            rows = db.execute(
                "SELECT status, since FROM status_runs WHERE policy_id = ? ORDER BY since", (policy_id,)
            )
            return [(str(a), datetime.fromisoformat(str(b)).replace(tzinfo=UTC)) for a, b in rows]


class FlakyProxy:
    """Forwards to the collector, unless told to fail the next requests in one of a few ways."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        # "5xx", "stall", "lose-answer" (and "404" for batches, as a collector without the route);
        # consumed one per request to POST /v1/reports and POST /v1/reports/batch respectively
        self.plan: list[str] = []
        self.batch_plan: list[str] = []
        self.before_batch: Callable[[], None] | None = None  # called as each batch is forwarded
        self.stall_seconds = 2.0
        self.seen = 0
        self.paths: list[str] = []  # of every POST, in order
        server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        server.daemon_threads = True
        self._server = server
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return None

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                proxy.seen += 1
                proxy.paths.append(self.path)
                plan = {"/v1/reports": proxy.plan, BATCH: proxy.batch_plan}.get(self.path, [])
                action = plan.pop(0) if plan else "forward"
                if action == "404":
                    return self._answer(404, b'{"code":"not_found","message":"no such route"}')
                if self.path == BATCH and proxy.before_batch is not None:
                    proxy.before_batch()
                if action == "5xx":
                    return self._answer(503, b'{"code":"unavailable","message":"upstream restarting"}')
                if action == "stall":
                    time.sleep(proxy.stall_seconds)
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() in {"authorization", "content-type"}
                }
                try:
                    upstream = httpx.post(
                        proxy.upstream + self.path, content=body, headers=headers, timeout=30
                    )
                except httpx.HTTPError:  # the collector went away mid-request, as a gateway answers it
                    return self._answer(502, b'{"code":"bad_gateway","message":"upstream gone"}')
                if action == "lose-answer":  # the collector ingested it; the agent never hears
                    return self._answer(504, b'{"code":"gateway_timeout","message":"no answer"}')
                return self._answer(upstream.status_code, upstream.content)

            def _answer(self, status: int, data: bytes) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        return Handler

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
