"""Logs never carry request data: an error provoked in the middle of ingestion is logged with its
traceback, but without the SQL parameters, the body's text or any credential."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from collector.observability import LOGGER_NAME, JsonFormatter
from collector.store.models import AgentEventRow
from tests.collector.support import Device, Fleet, bearer, result

SECRET_EVIDENCE = "patient-record-7731"
SECRET_MESSAGE = "bundle refused on GP-HOST-SECRET"


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    target = logging.getLogger(LOGGER_NAME)
    target.addHandler(handler)
    try:
        yield stream
    finally:
        target.removeHandler(handler)


def test_a_database_error_is_logged_without_parameters_body_or_credentials(
    fleet: Fleet, logs: io.StringIO
) -> None:
    secret = fleet.enroll_secret()
    device = fleet.enroll(secret=secret)
    table = AgentEventRow.__tablename__
    with fleet.db.write() as session:  # break the store under the app: every report with events fails
        session.execute(text(f"ALTER TABLE {table} RENAME TO {table}_away"))
    try:
        _provoke_and_scan(fleet, logs, device, secret)
    finally:  # PostgreSQL's test database is shared by the session's tests: put the table back
        with fleet.db.write() as session:
            session.execute(text(f"ALTER TABLE {table}_away RENAME TO {table}"))


def _provoke_and_scan(fleet: Fleet, logs: io.StringIO, device: Device, secret: str) -> None:
    evidence = [{"value": SECRET_EVIDENCE}]
    body = {
        "report_id": "8a0c1f1e-6d3a-4d8e-9a53-3f7d3c2b9e10",
        "kind": "snapshot",
        "observed_at": fleet.clock.now().isoformat(),
        "agent_version": "0.1.0",
        "results": [result("encryption-windows-bitlocker", "fail", evidence=evidence)],
        "events": [
            {"kind": "bundle_refused", "at": fleet.clock.now().isoformat(), "message": SECRET_MESSAGE}
        ],
    }
    response = fleet.client.post("/v1/reports", json=body, headers=bearer(device.key))
    assert response.status_code == 500
    assert response.json()["code"] == "internal_error"
    logged = logs.getvalue()
    assert "unexpected error" in logged
    assert "Traceback" in logged  # the frames are kept for whoever debugs it
    assert "ingest" in logged
    for leaked in (SECRET_EVIDENCE, SECRET_MESSAGE, device.key, secret, device.uuid):
        assert leaked not in logged, leaked
    with fleet.db.read() as session:
        digests = [
            row[0]
            for table in ("device_keys", "enroll_secrets", "api_tokens")
            for row in session.execute(text(f"SELECT digest FROM {table}"))
        ]
    assert digests
    assert all(d not in logged for d in digests)
