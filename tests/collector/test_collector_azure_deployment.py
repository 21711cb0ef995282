"""What the Azure deployment (infra/components/collector_hosting.py) relies on the collector to do.

- ``FLEETWARD_BOOTSTRAP_ENROLL_SECRET`` from Key Vault lets laptops enrol on day one (before, the stack injected
  ``FLEETWARD_ENROLL_SECRET``, which nothing read, so laptops given the secret were refused);
- a PostgreSQL URL with ``fleetward_entra_client_id`` signs in with a managed-identity token, fetched from the
  Container Apps identity endpoint (here a real HTTP server on loopback answering as that endpoint does: learn
  container-apps/managed-identity, "REST endpoint reference": GET with ``resource``, ``api-version=2019-08-01``,
  ``client_id`` and the ``X-IDENTITY-HEADER`` header; JSON ``access_token`` and ``expires_on``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import text

from collector.app import create_app
from collector.errors import StoreError
from collector.settings import CollectorSettings
from collector.store.credentials import list_enroll_secrets
from collector.store.engine import make_engine
from collector.store.entra_auth import POSTGRES_RESOURCE, ManagedIdentityTokens
from fleetward.clock import ManualClock
from tests.collector.support import Fleet

BOOTSTRAP_SECRET = "bootstrap-enroll-secret-" + "x" * 24
CLIENT_ID = "11111111-2222-4333-8444-555555555555"


def test_the_enroll_secret_infra_passes_is_a_collector_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEETWARD_BOOTSTRAP_ENROLL_SECRET", BOOTSTRAP_SECRET)
    monkeypatch.setenv("FLEETWARD_BOOTSTRAP_ENROLL_SECRET_VALIDITY", "P90D")
    settings = CollectorSettings()
    assert settings.bootstrap_enroll_secret is not None
    assert settings.bootstrap_enroll_secret.get_secret_value() == BOOTSTRAP_SECRET
    assert settings.bootstrap_enroll_secret_validity == timedelta(days=90)


def test_a_laptop_enrols_with_the_bootstrap_secret_and_restarts_do_not_duplicate_it(
    database_url: str, clock: ManualClock
) -> None:
    settings = CollectorSettings(
        database_url=SecretStr(database_url),
        bootstrap_enroll_secret=SecretStr(BOOTSTRAP_SECRET),
        bootstrap_enroll_secret_validity=timedelta(days=7),
    )
    for _restart in range(2):
        app = create_app(settings, clock=clock)
        with TestClient(app, raise_server_exceptions=False) as client:
            fleet = Fleet(client, app.state.ctx.db, clock)
            device = fleet.enroll("GP-LAPTOP-042", secret=BOOTSTRAP_SECRET)
            assert device.device_id
            with fleet.db.read() as session:
                secrets = list_enroll_secrets(session)
            assert len(secrets) == 1
            assert secrets[0].created_by == "bootstrap"
            expires = secrets[0].expires_at.replace(tzinfo=None)
            assert expires == (clock.now() + timedelta(days=7)).replace(tzinfo=None)


class _IdentityEndpoint(BaseHTTPRequestHandler):
    requests: list[dict[str, Any]]
    token = "entra-access-token"

    def do_GET(self) -> None:
        query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
        self.requests.append({"query": query, "header": self.headers.get("X-IDENTITY-HEADER")})
        body = json.dumps(
            {"access_token": self.token, "expires_on": "4102444800", "resource": query["resource"]}
        )
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *_args: Any) -> None:
        return


@pytest.fixture
def identity_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    requests: list[dict[str, Any]] = []
    handler = type("Handler", (_IdentityEndpoint,), {"requests": requests})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("IDENTITY_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}/msi/token")
    monkeypatch.setenv("IDENTITY_HEADER", "header-from-the-platform")
    try:
        yield requests
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.postgres
def test_postgres_url_with_entra_client_id_signs_in_with_a_managed_identity_token(
    postgres_url: str, identity_endpoint: list[dict[str, Any]]
) -> None:
    engine = make_engine(f"{postgres_url}?fleetward_entra_client_id={CLIENT_ID}")
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar() == 1
            dbapi = conn.connection.dbapi_connection
            assert dbapi is not None
            assert dbapi.info.password == _IdentityEndpoint.token  # type: ignore[attr-defined]
    finally:
        engine.dispose()
    assert identity_endpoint == [
        {
            "query": {"resource": POSTGRES_RESOURCE, "client_id": CLIENT_ID, "api-version": "2019-08-01"},
            "header": "header-from-the-platform",
        }
    ]


def test_tokens_are_cached_until_five_minutes_before_expiry(identity_endpoint: list[dict[str, Any]]) -> None:
    now = [4102444800.0 - 3600]
    tokens = ManagedIdentityTokens(CLIENT_ID, clock=lambda: now[0])
    assert tokens.token() == tokens.token() == _IdentityEndpoint.token
    assert len(identity_endpoint) == 1
    now[0] = 4102444800.0 - 200
    tokens.token()
    assert len(identity_endpoint) == 2


def test_an_unreachable_identity_endpoint_is_a_clear_store_error() -> None:
    tokens = ManagedIdentityTokens(CLIENT_ID, environ={"IDENTITY_ENDPOINT": "http://127.0.0.1:9/none"})
    with pytest.raises(StoreError, match="Entra token for PostgreSQL from the managed identity"):
        tokens.token()
