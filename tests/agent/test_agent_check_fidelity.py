"""Done-when of issue 12: `fleetward-agent check`, through the real osquery-python Thrift client and the
stand-in osqueryd (tests/support), gives every recorded device the verdicts the embedded engine gives.

The stand-in serves the device's osquery release: its tables, hidden and required columns, osquery's
SQL functions and `version_compare`. What the agent adds on the way (platform detection over Thrift,
values as strings, NULL as "") must not change a verdict.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fleetward.policy.catalogue import load_catalogue
from fleetward.policy.run import evaluate_catalogue
from fleetward.recorded import RecordedDevice, RecordedEngine, load_devices
from tests.support.osquery_server import RecordedOsqueryd, short_socket_path

ROOT = Path(__file__).resolve().parents[2]
DEVICES = load_devices()


def embedded_verdicts(device: RecordedDevice, at: datetime) -> dict[str, tuple[str, list[dict[str, str]]]]:
    engine = RecordedEngine(device)
    try:
        results = evaluate_catalogue(load_catalogue(), device.platform, engine.query, at)
    finally:
        engine.close()
    return {r.policy_id: (r.status.value, r.evidence) for r in results}


@pytest.mark.parametrize("device", DEVICES, ids=[d.name for d in DEVICES])
def test_agent_check_over_thrift_gives_the_embedded_engines_verdicts(
    device: RecordedDevice, tmp_path: Path
) -> None:
    config = tmp_path / "agent.toml"
    config.write_text(f'state_dir = "{tmp_path / "state"}"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETWARD_")}
    env["FLEETWARD_CONFIG_FILE"] = str(config)
    socket = short_socket_path()
    before = datetime.now(UTC)
    with RecordedOsqueryd(device, socket):
        done = subprocess.run(
            [sys.executable, "-m", "agent.cli", "check", "--osquery-socket", str(socket), "--format", "json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
        )
    after = datetime.now(UTC)
    assert done.returncode in (0, 1, 2), done.stderr
    over_thrift = {r["policy_id"]: (r["status"], r["evidence"]) for r in json.loads(done.stdout)}
    # The agent evaluates at its own clock's now: compare with the engine at the instants around the run.
    assert over_thrift in (embedded_verdicts(device, before), embedded_verdicts(device, after))
