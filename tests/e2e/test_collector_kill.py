"""kill -9 of the collector while it ingests loses no report it acknowledged.

Group commit answers a report only after the transaction holding it committed, so a 2xx means
"durably stored" even though many reports share one commit. Here devices send reports over
HTTP concurrently (so batches form) to the real collector process on SQLite; it is killed with
SIGKILL at a random moment; then every report that had been answered 2xx must be in the
database with its verdicts in force at its observed time. Reports in flight when it died were
never answered: an agent keeps those in its outbox and sends them again.
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.agent.collector_process import CollectorProcess

pytestmark = pytest.mark.slow
DEVICES = 8
POLICY = "encryption-windows-bitlocker"


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[CollectorProcess]:
    process = CollectorProcess(tmp_path, device_rate_per_minute="1000000", device_rate_burst="100000").start()
    yield process
    process.stop()


def _send_until_dead(
    url: str, key: str, start: datetime, acked: dict[str, tuple[datetime, str]], lock: threading.Lock
) -> None:
    rnd = random.Random(key)
    with httpx.Client(base_url=url, timeout=30) as client:
        for step in range(10_000):
            observed = start + timedelta(hours=step)
            status = rnd.choice(["pass", "pass", "fail"])
            report_id = str(uuid.uuid4())
            body = {
                "report_id": report_id,
                "kind": "snapshot",
                "observed_at": observed.isoformat(),
                "agent_version": "0.1.0",
                "results": [{"policy_id": POLICY, "policy_version": "v1", "status": status}],
            }
            try:
                response = client.post("/v1/reports", json=body, headers={"Authorization": f"Bearer {key}"})
            except httpx.HTTPError:
                return  # the collector died with this report unanswered
            assert response.status_code == 200, response.text
            with lock:
                acked[report_id] = (observed, status)


@pytest.mark.parametrize("trial", range(3))
def test_kill_minus_nine_loses_no_acknowledged_report(collector: CollectorProcess, trial: int) -> None:
    secret = collector.enroll_secret()
    keys = []
    for n in range(DEVICES):
        enrolled = httpx.post(
            f"{collector.url}/v1/enroll",
            json={
                "enroll_secret": secret,
                "host": {"uuid": f"KILL-{n}", "hostname": f"GP-{n}", "platform": "windows"},
            },
            timeout=30,
        )
        keys.append(enrolled.json()["device_key"])
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=400)
    acked: dict[str, tuple[datetime, str]] = {}
    lock = threading.Lock()
    senders = [
        threading.Thread(target=_send_until_dead, args=(collector.url, key, start, acked, lock))
        for key in keys
    ]
    for sender in senders:
        sender.start()
    wanted = random.Random(trial).randint(20, 120)
    deadline = time.monotonic() + 120
    while len(acked) < wanted and time.monotonic() < deadline:
        time.sleep(0.01)
    collector.kill()
    for sender in senders:
        sender.join(timeout=60)
    assert len(acked) >= wanted

    with sqlite3.connect(f"file:{collector.database}?mode=ro", uri=True) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = {str(row[0]) for row in db.execute("SELECT report_id FROM ingested_reports")}
        runs = [
            (
                str(status),
                datetime.fromisoformat(since),
                datetime.fromisoformat(last),
                str(report),
                str(last_report),
            )
            for status, since, last, report, last_report in db.execute(
                "SELECT status, since, last_seen, report_id, last_report_id FROM status_runs"
            )
        ]
    assert set(acked) <= stored, f"{len(set(acked) - stored)} acknowledged reports lost"
    for report_id, (observed, status) in acked.items():
        covering = [r for r in runs if r[1].replace(tzinfo=UTC) <= observed <= r[2].replace(tzinfo=UTC)]
        assert any(r[0] == status for r in covering), (report_id, observed, status)
