"""kill -9 of the agent at random points loses nothing it had written to its outbox.

Each trial runs the agent as its own process (tests/agent/kill_driver.py: the same composition as
`fleetward-agent run`, with a clock that jumps so every cycle writes a report) against the real
collector, kills it with SIGKILL at a random moment, then checks that every report the agent had
committed is either still in its outbox or already ingested by the collector. A restarted agent
then delivers the rest, and the collector holds each report exactly once.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

import pytest

from fleetward.recorded import load_device
from fleetward.recorded.model import default_devices_dir
from tests.agent.collector_process import ROOT, CollectorProcess
from tests.support.osquery_server import RecordedOsqueryd, short_socket_path

pytestmark = pytest.mark.slow
TRIALS = 20


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[CollectorProcess]:
    # The driver writes a report per cycle, far faster than a laptop's one an hour: lift the
    # collector's per-device rate limit so the test measures durability, not throttling.
    process = CollectorProcess(tmp_path, device_rate_per_minute="1000000", device_rate_burst="100000").start()
    yield process
    process.stop()


def outbox_ids(state: Path) -> set[str]:
    with sqlite3.connect(state / "agent.db") as db:
        return {str(row[0]) for row in db.execute("SELECT report_id FROM outbox")}


def driver(
    state: Path, socket: Path, collector: CollectorProcess, secret: str, start: datetime, mode: str
) -> tuple[list[str], dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETWARD_")}
    env["FLEETWARD_CONFIG_FILE"] = str(state.parent / "agent.toml")
    argv = [sys.executable, "-m", "tests.agent.kill_driver", str(state), str(socket), collector.url, secret]
    return [*argv, start.isoformat(), mode], env


def _collect(stream: IO[str], into: list[str]) -> None:
    into.extend(line.strip() for line in stream)


def test_kill_minus_nine_at_random_points_loses_nothing_written(
    tmp_path: Path, collector: CollectorProcess
) -> None:
    rng = random.Random(20261121)
    (tmp_path / "agent.toml").write_text("")
    secret = collector.enroll_secret()
    every_written: list[str] = []
    with RecordedOsqueryd(
        load_device(default_devices_dir() / "win11-25h2-ent-compliant.yaml"), short_socket_path()
    ) as osqueryd:
        for trial in range(TRIALS):
            state = tmp_path / f"laptop-{trial}"
            # Far enough back that even a fast run (6 h per cycle) stays behind the collector's clock:
            # reports from more than a day in its future are refused (422), which is not what this tests.
            start = datetime.now(UTC) - timedelta(days=365) + timedelta(days=trial)
            argv, env = driver(state, osqueryd.socket_path, collector, secret, start, "write")
            proc = subprocess.Popen(
                argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
            )
            assert proc.stdout is not None
            written: list[str] = []
            reader = threading.Thread(target=_collect, args=(proc.stdout, written), daemon=True)
            reader.start()
            deadline = time.monotonic() + 30
            while not written and time.monotonic() < deadline:  # wait for the first committed report
                time.sleep(0.01)
            assert written, f"trial {trial}: the agent wrote nothing"
            time.sleep(rng.uniform(0.0, 1.5))  # then kill it wherever it happens to be
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            reader.join(timeout=10)
            ingested = {row[0] for row in collector.ingested()}
            kept = outbox_ids(state)
            lost = set(written) - kept - ingested
            assert not lost, f"trial {trial}: killed after {len(written)} reports, lost {sorted(lost)}"
            every_written += written

            # The restarted agent delivers what was left.
            argv, env = driver(state, osqueryd.socket_path, collector, secret, start, "drain")
            subprocess.run(argv, cwd=ROOT, env=env, check=True, timeout=120, capture_output=True)
            assert outbox_ids(state) == set()

    ingested_ids = [row[0] for row in collector.ingested()]
    assert set(every_written) <= set(ingested_ids)
    assert len(ingested_ids) == len(set(ingested_ids))  # each report once
