"""Upgrading the agent keeps what the laptop already has: this agent opens the state directory agent
0.1.0 left (tests/agent/data/state-0.1.0, written by that version's own code with
make_state_0_1_0.py), reads it with `status` without changing it, delivers its waiting outbox in order
with the pending event, keeps the dead letter, and reports drift against the old last-known state.

A rollback (an older agent over a newer database) is only safe while the schema version is the same;
store.Database refuses nothing today because there has been one schema version (docs/laptop-rollout.md,
"Rolling back").
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import pytest

from agent import store as agent_store
from agent.compose import build_agent
from agent.osquery.recorded import RecordedRunner
from agent.settings import AgentSettings
from fleetward.clock import ManualClock
from fleetward.recorded.model import default_devices_dir
from tests.agent.scripted_collector import ScriptedCollector, scripted_collector

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = Path(__file__).resolve().parent / "data" / "state-0.1.0"
WAITING = [str(UUID(int=n)) for n in (0x0101, 0x0102, 0x0103)]
DEVICE = default_devices_dir() / "win11-25h2-ent-compliant.yaml"


@pytest.fixture
def old_state(tmp_path: Path) -> Path:
    state = tmp_path / "state"
    shutil.copytree(FIXTURE, state)
    state.chmod(0o700)
    return state


@pytest.fixture
def collector() -> Iterator[ScriptedCollector]:
    with scripted_collector() as server:
        yield server


def _schema_version(path: Path) -> int:
    # immutable: reading the committed fixture must not leave -wal/-shm files beside it
    with closing(sqlite3.connect(f"{path.absolute().as_uri()}?immutable=1", uri=True)) as conn:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _known_state(path: Path) -> dict[str, tuple[str, str]]:
    with closing(sqlite3.connect(f"{path.absolute().as_uri()}?immutable=1", uri=True)) as conn:
        rows = conn.execute("SELECT policy_id, status, version FROM policy_state").fetchall()
    return {str(pid): (str(status), str(version)) for pid, status, version in rows}


def test_the_fixture_is_an_old_agents_state() -> None:
    assert _schema_version(FIXTURE / "agent.db") == 1
    assert _known_state(FIXTURE / "agent.db")["encryption-windows-bitlocker"][0] == "fail"
    assert json.loads((FIXTURE / "device.json").read_text())["device_id"] == "dev-legacy"


def test_status_reads_the_old_database_without_changing_it(old_state: Path, tmp_path: Path) -> None:
    config = tmp_path / "agent.toml"
    config.write_text(f'state_dir = "{old_state}"\n')
    before = (old_state / "agent.db").read_bytes()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETWARD_")}
    done = subprocess.run(
        [sys.executable, "-m", "agent.cli", "status", "--format", "json"],
        env={**env, "FLEETWARD_CONFIG_FILE": str(config)},
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert shown["outbox_depth"] == 3
    assert shown["dead_letters"] == 1
    assert shown["last_dead_letter"]["status_code"] == 422
    assert shown["device_id"] == "dev-legacy"
    assert shown["last_evaluation"]["platform"] == "windows"
    assert (old_state / "agent.db").read_bytes() == before


def test_the_new_agent_delivers_the_old_outbox_and_reports_drift_against_the_old_state(
    old_state: Path, collector: ScriptedCollector
) -> None:
    settings = AgentSettings(
        config_file=None,
        state_dir=old_state,
        collector_url=collector.url,
        enroll_secret="enroll-secret-for-upgrade-tests",
    )
    # Three hours after 0.1.0's last snapshot: no heartbeat due, so the report holds only what changed.
    clock = ManualClock(datetime(2026, 11, 20, 12, 0, tzinfo=UTC))
    agent = build_agent(settings, clock=clock, runner=lambda: RecordedRunner.from_file(DEVICE))
    try:
        delivered = agent.service.flush_step(force=True)
        assert delivered is not None
        assert delivered.delivered == 3
        assert collector.accepted == WAITING  # in the order 0.1.0 wrote them
        assert agent.outbox.depth() == 0
        assert agent.outbox.dead_letters() == 1  # kept for inspection, not resent
        # The credentials were for another collector: the new agent enrolled again with the secret.
        assert collector.keys_issued == ["key-1"]

        outcome = agent.service.evaluate_step()
        assert outcome.report is not None
        assert outcome.evaluation is not None
        changed = {r.policy_id: r.status.value for r in outcome.report.results}
        # 0.1.0 last knew BitLocker as failing; this laptop now passes. Policies whose version changed
        # since 0.1.0 are reported too (a new version's result is never mixed with the old one); every
        # other policy is unchanged and absent.
        known = _known_state(FIXTURE / "agent.db")
        expected = {
            r.policy_id
            for r in outcome.evaluation.results
            if known.get(r.policy_id) != (r.status.value, r.policy_version)
        }
        assert changed["encryption-windows-bitlocker"] == "pass"
        assert set(changed) == expected
        assert len(changed) < len(outcome.evaluation.results)
        kinds = [e.kind.value for e in outcome.report.events]
        assert "osquery_unavailable" in kinds  # the event 0.1.0 left pending rides on this report
        agent.service.flush_step(force=True)
        assert collector.accepted[-1] == str(outcome.report.report_id)
    finally:
        agent.close()
    # upgraded in place to this agent's schema (0.1.0 wrote schema 1)
    assert _schema_version(old_state / "agent.db") == len(agent_store._SCHEMA) > 1


def test_an_older_agent_refuses_a_database_from_a_newer_schema(old_state: Path) -> None:
    from agent.errors import StateError
    from agent.store import Database

    with closing(sqlite3.connect(old_state / "agent.db")) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(StateError, match="written by a newer agent") as caught:
        Database.in_state_dir(old_state)
    assert "install the newer agent again" in str(caught.value)
