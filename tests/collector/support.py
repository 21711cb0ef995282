"""A small driver for the collector's API in tests: admin token, enroll secrets, devices, reports."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response

from collector.store import Database
from collector.store.credentials import Hasher, Role, create_api_token, create_enroll_secret
from fleetward.clock import ManualClock


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def result(
    policy_id: str,
    status: str,
    *,
    version: str = "v1",
    evidence: list[dict[str, str]] | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"policy_id": policy_id, "policy_version": version, "status": status}
    if evidence is not None:
        body["evidence"] = evidence
    if error is not None:
        body["error"] = error
    return body


@dataclass
class Device:
    device_id: str
    key: str
    uuid: str
    hostname: str


@dataclass
class Fleet:
    client: TestClient
    db: Database
    clock: ManualClock
    _admin: str | None = field(default=None, init=False)

    def token(self, role: Role, name: str = "test") -> str:
        with self.db.write() as session:
            return create_api_token(
                session, Hasher(), name=name, role=role, now=self.clock.now(), created_by="tests"
            ).secret

    @property
    def admin(self) -> str:
        if self._admin is None:
            self._admin = self.token(Role.ADMIN, "admin")
        return self._admin

    def enroll_secret(
        self, *, practice: str | None = None, expires_in: timedelta = timedelta(days=30)
    ) -> str:
        with self.db.write() as session:
            return create_enroll_secret(
                session,
                Hasher(),
                name="tests",
                practice=practice,
                expires_at=self.clock.now() + expires_in,
                now=self.clock.now(),
                created_by="tests",
            ).secret

    def enroll(
        self,
        hostname: str = "GP-LAPTOP-001",
        *,
        platform: str = "windows",
        hw_uuid: str | None = None,
        practice: str | None = None,
        secret: str | None = None,
    ) -> Device:
        hw_uuid = hw_uuid or str(uuid.uuid4()).upper()
        response = self.client.post(
            "/v1/enroll",
            json={
                "enroll_secret": secret or self.enroll_secret(),
                "host": {
                    "uuid": hw_uuid,
                    "hostname": hostname,
                    "platform": platform,
                    "practice": practice,
                    "hardware_serial": "SN-" + hostname,
                    "os_name": "Windows 11",
                    "os_version": "10.0.26100",
                },
                "agent_version": "0.1.0",
            },
        )
        assert response.status_code == 200, response.text
        body = response.json()
        return Device(body["device_id"], body["device_key"], hw_uuid, hostname)

    def report(
        self,
        device: Device,
        results: list[dict[str, Any]],
        *,
        at: datetime | None = None,
        report_id: str | None = None,
        kind: str = "snapshot",
        key: str | None = None,
    ) -> Response:
        observed = at or self.clock.now()
        return self.client.post(
            "/v1/reports",
            headers=bearer(key or device.key),
            json={
                "report_id": report_id or str(uuid.uuid4()),
                "kind": kind,
                "observed_at": observed.isoformat(),
                "agent_version": "0.1.0",
                "policy_versions": {r["policy_id"]: r["policy_version"] for r in results},
                "results": results,
            },
        )

    def state(self, at: datetime, **params: Any) -> dict[str, Any]:
        response = self.client.get(
            "/v1/fleet/state", params={"at": at.isoformat(), **params}, headers=bearer(self.admin)
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def pair_status(self, device: Device, policy_id: str, at: datetime) -> str:
        body = self.state(at, policy=policy_id, limit=1000)
        found = [p for p in body["pairs"] if p["device_id"] == device.device_id]
        assert len(found) == 1, body["pairs"]
        status: str = found[0]["status"]
        return status
