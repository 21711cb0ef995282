"""A real collector on loopback (uvicorn, SQLite) filled by the recorded devices over HTTP.

Each recorded device enrolls, then every five days evaluates the shipped catalogue on its
recorded tables (the embedded osquery-faithful engine) and reports, as an agent would. One
device falls silent after the first report (stale by the end), one failing pair gets a waiver.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import uvicorn

from collector.app import create_app
from collector.settings import CollectorSettings
from collector.store import Database, migrate
from collector.store.credentials import Hasher, Role, create_api_token, create_enroll_secret
from fleetward.clock import ManualClock
from fleetward.policy.catalogue import load_catalogue
from fleetward.policy.run import evaluate_catalogue
from fleetward.recorded.engine import RecordedEngine
from fleetward.recorded.model import load_devices

START = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
REPORT_DAYS = range(0, 40, 5)
SILENT_DEVICE = "win11-24h2-ent-compliant"
PRACTICES = ("P81001", "P81002", "P81003")


@dataclass
class LiveCollector:
    url: str
    database_url: str
    auditor_token: str
    admin_token: str
    device_key: str
    clock: ManualClock
    hostnames: dict[str, str]  # recorded device name -> hostname


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _fill(client: httpx.Client, db: Database, clock: ManualClock, admin: str) -> tuple[dict[str, str], str]:
    with db.write() as session:
        secret = create_enroll_secret(
            session,
            Hasher(),
            name="ui-tests",
            practice=None,
            expires_at=START + timedelta(days=365),
            now=START,
            created_by="tests",
        ).secret
    catalogue = load_catalogue()
    devices = load_devices()
    enrolled: dict[str, tuple[str, str]] = {}
    hostnames: dict[str, str] = {}
    for index, device in enumerate(devices):
        hostname = f"GP-{device.name.upper()}"
        response = client.post(
            "/v1/enroll",
            json={
                "enroll_secret": secret,
                "agent_version": "0.1.0",
                "host": {
                    "uuid": str(uuid.UUID(int=index + 1)).upper(),
                    "hostname": hostname,
                    "platform": device.platform.value,
                    "practice": PRACTICES[index % len(PRACTICES)],
                    "hardware_serial": f"SN{index:05d}",
                    "os_name": device.first("os_version", "name"),
                    "os_version": device.first("os_version", "version"),
                },
            },
        )
        assert response.status_code == 200, response.text
        enrolled[device.name] = (response.json()["device_id"], response.json()["device_key"])
        hostnames[device.name] = hostname
    engines = {device.name: RecordedEngine(device) for device in devices}
    failing: tuple[str, str] | None = None
    for day in REPORT_DAYS:
        clock.set(START + timedelta(days=day))
        for device in devices:
            if device.name == SILENT_DEVICE and day > 0:
                continue
            device_id, key = enrolled[device.name]
            results = evaluate_catalogue(catalogue, device.platform, engines[device.name].query, clock.now())
            response = client.post(
                "/v1/reports",
                headers={"Authorization": f"Bearer {key}"},
                json={
                    "report_id": str(uuid.uuid4()),
                    "kind": "snapshot",
                    "observed_at": clock.now().isoformat(),
                    "agent_version": "0.1.0",
                    "policy_versions": {r.policy_id: r.policy_version for r in results},
                    "results": [r.model_dump(mode="json") for r in results],
                },
            )
            assert response.status_code in (200, 202), response.text
            if failing is None:
                failing = next(((device_id, r.policy_id) for r in results if r.status.value == "fail"), None)
    assert failing is not None
    response = client.post(
        "/v1/waivers",
        headers={"Authorization": f"Bearer {admin}"},
        json={
            "policy_id": failing[1],
            "device_id": failing[0],
            "owner": "ICB IT lead",
            "justification": "Replacement laptop ordered; patient data removed meanwhile",
            "expires_at": (clock.now() + timedelta(days=30)).isoformat(),
        },
    )
    assert response.status_code == 201, response.text
    return hostnames, enrolled[devices[0].name][1]


@pytest.fixture(scope="session")
def live_collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveCollector]:
    url = f"sqlite:///{tmp_path_factory.mktemp('ui') / 'collector.db'}"
    migrate(url, now=START)
    clock = ManualClock(START)
    app = create_app(CollectorSettings(database_url=url), clock=clock)  # type: ignore[arg-type]
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    db = Database.from_url(url)
    try:
        with db.write() as session:
            admin = create_api_token(
                session, Hasher(), name="admin", role=Role.ADMIN, now=START, created_by="tests"
            ).secret
            auditor = create_api_token(
                session, Hasher(), name="Internal audit", role=Role.AUDITOR, now=START, created_by="tests"
            ).secret
        with httpx.Client(base_url=base, timeout=30) as client:
            hostnames, device_key = _fill(client, db, clock, admin)
        yield LiveCollector(base, url, auditor, admin, device_key, clock, hostnames)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        db.dispose()
