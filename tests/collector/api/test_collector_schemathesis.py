"""schemathesis against the app's own OpenAPI document: no 5xx, every response as documented.

The schema is loaded from a module-level app (schemathesis 4's lazy `from_fixture` does not work
with pytest 9) without a request; its SQLite database is created, migrated and removed by a
module fixture, which also holds one ASGI client for every case.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from collector.app import create_app
from collector.settings import CollectorSettings
from collector.store import Database, migrate
from collector.store.credentials import Hasher, Role, create_api_token
from fleetward.clock import ManualClock

CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance]
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
_DIR = Path(tempfile.mkdtemp(prefix="fleetward-fuzz-"))
_URL = f"sqlite:///{_DIR / 'fuzz.db'}"
APP = create_app(CollectorSettings(database_url=_URL), clock=ManualClock(NOW))  # type: ignore[arg-type]
schema = schemathesis.openapi.from_dict(APP.openapi())  # no request yet: the database comes later
schema.app = APP


@pytest.fixture(scope="module")
def credentials() -> Iterator[dict[str, Any]]:
    migrate(_URL, now=NOW)
    db = Database.from_url(_URL)
    with db.write() as session:
        admin = create_api_token(
            session, Hasher(), name="fuzz", role=Role.ADMIN, now=NOW, created_by="t"
        ).secret
    with TestClient(APP) as client:
        headers = {"Authorization": f"Bearer {admin}"}
        secret = client.post("/v1/admin/enroll-secrets", json={}, headers=headers).json()["secret"]
        enrolled = client.post(
            "/v1/enroll",
            json={"enroll_secret": secret, "host": {"uuid": "FUZZ", "hostname": "fuzz", "platform": "linux"}},
        ).json()
    with asgi.get_client(APP) as session:  # one client (and one app lifespan) for every case
        yield {"admin": admin, "device": enrolled["device_key"], "session": session}
    db.dispose()
    APP.state.ctx.db.dispose()
    shutil.rmtree(_DIR, ignore_errors=True)


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_honours_its_own_openapi_document(
    case: schemathesis.Case, credentials: dict[str, str]
) -> None:
    credential = credentials["device"] if case.path == "/v1/reports" else credentials["admin"]
    case.call_and_validate(headers={"Authorization": f"Bearer {credential}"}, checks=CHECKS)
