"""Operations: health, readiness, metrics, JSON logs without secrets, and a real uvicorn process."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from collector.app import create_app
from collector.observability import LOGGER_NAME, JsonFormatter
from collector.settings import CollectorSettings
from collector.store import Database, migrate
from collector.store.migrate import head_revision
from tests.collector.support import Fleet, bearer, result


def test_health_and_readiness(fleet: Fleet) -> None:
    assert fleet.client.get("/healthz").json() == {"status": "ok"}
    ready = fleet.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["schema_revision"] == head_revision()


def test_not_ready_when_the_schema_is_behind(fleet: Fleet, db: Database) -> None:
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'old'"))
    try:
        response = fleet.client.get("/readyz")
        assert (response.status_code, response.json()["code"]) == (503, "not_ready")
        assert "fleetward collector migrate" in response.json()["message"]
    finally:
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :head"), {"head": head_revision()})


def test_the_app_refuses_to_start_on_an_unmigrated_database(tmp_path: Path) -> None:
    settings = CollectorSettings(database_url=f"sqlite:///{tmp_path / 'empty.db'}")  # type: ignore[arg-type]
    with pytest.raises(Exception, match="fleetward collector migrate"), TestClient(create_app(settings)):
        pass


def test_metrics_count_reports_transitions_and_latency(fleet: Fleet) -> None:
    device = fleet.enroll()
    fleet.report(device, [result("encryption-windows-bitlocker", "fail")])
    text_format = fleet.client.get("/metrics").text
    assert "fleetward_reports_ingested_total 1.0" in text_format
    assert "fleetward_transitions_total 1.0" in text_format
    assert (
        'fleetward_request_duration_seconds_count{method="POST",route="/v1/reports",status="200"} 1.0'
        in text_format
    )


@pytest.fixture
def captured_logs() -> Iterator[list[str]]:
    lines: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(JsonFormatter().format(record))

    handler = Capture()
    logger = logging.getLogger(LOGGER_NAME)
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.DEBUG)
    yield lines
    logger.removeHandler(handler)
    logger.setLevel(previous)


def test_logs_are_json_and_never_contain_secrets_or_keys(fleet: Fleet, captured_logs: list[str]) -> None:
    secret = fleet.enroll_secret()
    device = fleet.enroll(secret=secret)
    fleet.report(device, [result("encryption-windows-bitlocker", "pass")])
    fleet.report(device, [result("encryption-windows-bitlocker", "pass")], key=device.key + "x")
    created = fleet.client.post(
        "/v1/admin/tokens", json={"name": "auditor", "role": "auditor"}, headers=bearer(fleet.admin)
    ).json()
    issued_secret = fleet.client.post(
        "/v1/admin/enroll-secrets", json={"practice": "Y01234"}, headers=bearer(fleet.admin)
    ).json()
    fleet.client.get("/v1/fleet/state", headers=bearer(created["token"]))
    assert captured_logs, "nothing was logged"
    everything = "\n".join(captured_logs)
    for value in (secret, device.key, fleet.admin, created["token"], issued_secret["secret"]):
        assert value not in everything
        assert value.split("_", 1)[1][:12] not in everything  # not even a prefix of the random part
    records = [json.loads(line) for line in captured_logs]
    assert {"time", "level", "message"} <= set(records[0])
    requests = [r for r in records if r["message"] == "request"]
    assert any(r["route"] == "/v1/reports" and r["principal"] == device.device_id for r in requests)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_a_real_uvicorn_process_serves_enrollment_and_reports(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'served.db'}"
    migrate(url)
    port = _free_port()
    env = {**os.environ, "FLEETWARD_DATABASE_URL": url, "FLEETWARD_PORT": str(port)}
    admin = subprocess.run(
        [sys.executable, "-m", "collector.cli", "token", "create", "--name", "ops", "--role", "admin"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    server = subprocess.Popen(
        [sys.executable, "-m", "collector.cli", "serve"], env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=5) as client:
            # Readiness, not speed: a loaded CI machine can take tens of seconds to import the app.
            ready_by = time.monotonic() + 120
            while time.monotonic() < ready_by:
                try:
                    if client.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if server.poll() is not None:
                    pytest.fail(f"the collector exited with {server.returncode} before it was ready")
                time.sleep(0.2)
            secret = client.post("/v1/admin/enroll-secrets", json={}, headers=bearer(admin)).json()["secret"]
            enrolled = client.post(
                "/v1/enroll",
                json={
                    "enroll_secret": secret,
                    "host": {"uuid": "HW-1", "hostname": "GP-9", "platform": "darwin"},
                },
            ).json()
            report = {
                "report_id": str(uuid.uuid4()),
                "kind": "transition",
                "observed_at": datetime.now(UTC).isoformat(),
                "agent_version": "0.1.0",
                "results": [
                    {"policy_id": "encryption-macos-filevault", "policy_version": "x", "status": "pass"}
                ],
            }
            ack = client.post("/v1/reports", json=report, headers=bearer(enrolled["device_key"]))
            assert ack.status_code == 200
            assert ack.json()["transitions"] == 1
            state = client.get(
                "/v1/fleet/state",
                params={"at": (datetime.now(UTC) + timedelta(seconds=1)).isoformat()},
                headers=bearer(admin),
            )
            assert state.json()["totals"]["by_status"]["pass"] == 1
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=10)
    log_lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert any(line.get("route") == "/v1/reports" for line in log_lines)
    assert enrolled["device_key"] not in stderr
    assert admin not in stderr
    assert secret not in stderr
