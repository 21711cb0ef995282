"""The agent reaches the collector through the proxy the environment names (httpx honours HTTPS_PROXY,
HTTP_PROXY and NO_PROXY: its Client trusts the environment by default), as NHS networks require.
A real forwarding proxy on loopback records what passed through it."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from agent.collector_client import CollectorClient
from fleetward.wire import EnrollRequest, HostIdentity
from tests.agent.scripted_collector import ScriptedCollector, scripted_collector


class ForwardingProxy:
    """An HTTP proxy for plain-http targets: takes absolute-form requests and forwards them."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return None

            def do_POST(self) -> None:
                proxy.seen.append(f"{self.command} {self.path}")
                target = urlsplit(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                upstream = http.client.HTTPConnection(target.hostname or "", target.port, timeout=10)
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in {"proxy-connection", "host"}
                }
                upstream.request(self.command, target.path, body=body, headers=headers)
                answer = upstream.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                self.send_header("Content-Type", answer.getheader("Content-Type", "application/json"))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                upstream.close()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def proxy() -> Iterator[ForwardingProxy]:
    server = ForwardingProxy()
    yield server
    server.stop()


@pytest.fixture
def collector() -> Iterator[ScriptedCollector]:
    with scripted_collector() as server:
        yield server


def _enroll(collector: ScriptedCollector) -> str:
    client = CollectorClient(collector.url, timeout=10)
    try:
        host = HostIdentity(uuid="4C4C4544-0042", hostname="GP-LAPTOP-017", platform="windows")
        return client.enroll(EnrollRequest(enroll_secret="enroll-secret-1", host=host)).device_id
    finally:
        client.close()


def test_the_collector_is_reached_through_the_proxy_in_the_environment(
    proxy: ForwardingProxy, collector: ScriptedCollector, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy.url)  # for an http:// collector; HTTPS_PROXY for https://
    assert _enroll(collector) == "dev-1"
    assert proxy.seen == [f"POST {collector.url}/v1/enroll"]


def test_no_proxy_bypasses_it(
    proxy: ForwardingProxy, collector: ScriptedCollector, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert _enroll(collector) == "dev-1"
    assert proxy.seen == []
