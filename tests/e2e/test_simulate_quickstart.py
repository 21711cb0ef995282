"""`fleetward simulate` exactly as docs/quickstart.md writes it, against a collector running on the
real clock (a separate process): it must work today, and leave no live enroll secret behind."""

from __future__ import annotations

from pathlib import Path

import httpx
from typer.testing import CliRunner

from fleetward.cli import app
from tests.agent.collector_process import CollectorProcess


def test_simulate_against_a_live_collector_works_today_and_revokes_its_enroll_secrets(tmp_path: Path) -> None:
    collector = CollectorProcess(tmp_path).start()
    try:
        result = CliRunner().invoke(
            app,
            [
                "simulate",
                "--collector",
                collector.url,
                "--token",
                collector.admin_token,
                "--devices",
                "8",
                "--days",
                "30",
            ],
        )
        assert result.exit_code == 0, result.output
        assert "reports delivered" in result.output
        http = httpx.Client(
            base_url=collector.url, headers={"Authorization": f"Bearer {collector.admin_token}"}
        )
        secrets = http.get("/v1/admin/enroll-secrets").json()
        devices = http.get("/v1/devices", params={"limit": 100}).json()["devices"]
        http.close()
    finally:
        collector.stop()
    assert secrets, "the simulation creates one enroll secret per practice"
    assert all(s["revoked_at"] is not None for s in secrets)
    assert len(devices) >= 1
