"""A real HTTP server on loopback that serves policy bundles like the collector, or like a
compromised collector or a broken network: any bytes, any ETag, cut short on purpose."""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class BundleCollector:
    def __init__(self) -> None:
        self.body: bytes | None = None
        self.etag: str | None = None
        self.cut_to: int | None = None  # serve only this many bytes (a truncated download)
        self.answers: list[int] = []  # status of every bundle request, in order
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def serve(self, body: bytes, *, etag: str | None = None, cut_to: int | None = None) -> None:
        """Serve these bytes; the ETag is their digest (as the collector's) unless given."""
        self.body = body
        self.etag = etag or f'"{hashlib.sha256(body).hexdigest()}"'
        self.cut_to = cut_to

    def start(self) -> BundleCollector:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.path == "/v1/enroll":
                    self._send(200, json.dumps({"device_id": "dev-1", "device_key": "device-key-1"}).encode())
                else:
                    self._send(404, b'{"code": "not_found", "message": "no such endpoint"}')

            def do_GET(self) -> None:
                if self.path != "/v1/policies/bundle":
                    self._send(404, b'{"code": "not_found", "message": "no such endpoint"}')
                elif self.headers.get("Authorization") != "Bearer device-key-1":
                    self._send(401, b'{"code": "device_key_invalid", "message": "unknown key"}')
                elif owner.body is None:
                    self._send(404, b'{"code": "no_bundle", "message": "nothing published"}')
                elif self.headers.get("If-None-Match") == owner.etag:
                    self._send(304, b"", {"ETag": owner.etag or ""})
                else:
                    body = owner.body if owner.cut_to is None else owner.body[: owner.cut_to]
                    self._send(200, body, {"ETag": owner.etag or ""})

            def _send(self, status: int, data: bytes, headers: dict[str, str] | None = None) -> None:
                if self.path == "/v1/policies/bundle":
                    owner.answers.append(status)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                if status != 304:
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if status != 304:
                    self.wfile.write(data)

        return Handler
