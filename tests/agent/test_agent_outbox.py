"""The outbox: durable, ordered, bounded with an explicit compaction that is reported."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent.outbox import COMPACTIONS, LAST_COMPACTION, Outbox
from agent.store import Database
from fleetward.clock import ManualClock
from fleetward.policy.verdict import Status
from fleetward.wire import EventKind, ReportKind
from tests.agent.reports import report, result

START = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database.in_state_dir(tmp_path / "state")
    yield database
    database.close()


def outbox(
    db: Database, clock: ManualClock, *, max_entries: int = 1000, max_bytes: int = 10_000_000
) -> Outbox:
    return Outbox(db, max_entries=max_entries, max_bytes=max_bytes, clock=clock)


def test_reports_come_out_in_the_order_they_went_in_until_acknowledged(db: Database) -> None:
    box = outbox(db, ManualClock(START))
    written = [
        box.put(report(ReportKind.TRANSITION, START + timedelta(hours=i), result("a"))) for i in range(5)
    ]
    batch = box.next_batch(3)
    assert [e.report.report_id for e in batch] == [r.report_id for r in written[:3]]
    assert box.ack([written[0].report_id, written[1].report_id]) == 2
    assert [e.report.report_id for e in box.next_batch(10)] == [r.report_id for r in written[2:]]
    assert box.depth() == 3


def test_stored_body_is_exactly_the_report(db: Database) -> None:
    box = outbox(db, ManualClock(START))
    stored = box.put(report(ReportKind.SNAPSHOT, START, result("a"), result("b", Status.FAIL)))
    entry = box.next_batch(1)[0]
    assert entry.report == stored
    assert json.loads(entry.body)["report_id"] == str(stored.report_id)


def test_pending_events_ride_on_the_next_report_once(db: Database) -> None:
    clock = ManualClock(START)
    box = outbox(db, clock)
    box.record_event(EventKind.OSQUERY_UNAVAILABLE, "osqueryd was not running")
    first = box.put(report(ReportKind.TRANSITION, START, result("a")))
    second = box.put(report(ReportKind.TRANSITION, START, result("a")))
    assert [e.message for e in first.events] == ["osqueryd was not running"]
    assert second.events == []


def test_full_outbox_drops_old_snapshots_keeps_transitions_and_says_so(db: Database) -> None:
    clock = ManualClock(START)
    box = outbox(db, clock, max_entries=12)  # room for the 10 transitions and one snapshot
    kept: list[str] = []
    newest_snapshot = None
    for hour in range(30):
        at = START + timedelta(hours=hour)
        if hour % 3 == 0:
            stored = box.put(
                report(ReportKind.TRANSITION, at, result("a", Status.FAIL if hour % 2 else Status.PASS))
            )
            kept.append(str(stored.report_id))
        else:
            newest_snapshot = box.put(report(ReportKind.SNAPSHOT, at, result("a"), result("b")))
    remaining = box.next_batch(100)
    transitions = [str(e.report.report_id) for e in remaining if e.report.kind is ReportKind.TRANSITION]
    snapshots = [e.report.report_id for e in remaining if e.report.kind is ReportKind.SNAPSHOT]
    assert transitions == kept  # every transition, in order
    assert newest_snapshot is not None
    assert snapshots == [newest_snapshot.report_id]  # the latest state
    assert int(db.get_meta(COMPACTIONS) or "0") >= 1
    assert "were dropped" in json.loads(db.get_meta(LAST_COMPACTION) or "{}")["message"]
    # ... and the next report tells the collector.
    following = box.put(report(ReportKind.TRANSITION, START + timedelta(days=2), result("a")))
    assert [e.kind for e in following.events] == [EventKind.OUTBOX_COMPACTED]


def test_byte_bound_is_enforced_too(db: Database) -> None:
    box = outbox(db, ManualClock(START), max_bytes=64 * 1024)
    for hour in range(40):
        box.put(report(ReportKind.SNAPSHOT, START + timedelta(hours=hour), result("a", evidence_kb=3)))
    assert box.size_bytes() <= 64 * 1024
    assert box.depth() >= 1


def test_when_transitions_alone_overflow_the_oldest_before_the_newest_snapshot_go(db: Database) -> None:
    box = outbox(db, ManualClock(START), max_entries=5)
    for hour in range(8):
        box.put(report(ReportKind.TRANSITION, START + timedelta(hours=hour), result("a")))
    snapshot = box.put(report(ReportKind.SNAPSHOT, START + timedelta(hours=9), result("a")))
    after = box.put(report(ReportKind.TRANSITION, START + timedelta(hours=10), result("a", Status.FAIL)))
    ids = [e.report.report_id for e in box.next_batch(100)]
    assert len(ids) <= 5
    assert ids[-2:] == [snapshot.report_id, after.report_id]


def test_dead_letter_takes_the_report_out_of_the_queue_but_keeps_it(db: Database) -> None:
    box = outbox(db, ManualClock(START))
    bad = box.put(report(ReportKind.TRANSITION, START, result("a")))
    good = box.put(report(ReportKind.TRANSITION, START, result("b")))
    box.dead_letter(box.next_batch(1)[0], status_code=422, reason="results[0].status: bad value")
    assert box.report_ids() == [good.report_id]
    assert box.dead_letters() == 1
    assert db.read("SELECT report_id FROM dead_letter") == [(str(bad.report_id),)]


def test_a_refused_report_is_announced_to_the_collector_with_the_next_one(db: Database) -> None:
    box = outbox(db, ManualClock(START))
    bad = box.put(report(ReportKind.TRANSITION, START, result("a")))
    box.dead_letter(box.next_batch(1)[0], status_code=422, reason="results[0].status: bad value")
    following = box.put(report(ReportKind.TRANSITION, START + timedelta(hours=1), result("a", Status.FAIL)))
    refused = [e for e in following.events if e.kind is EventKind.REPORT_REFUSED]
    assert len(refused) == 1
    assert str(bad.report_id) in refused[0].message
    assert "422" in refused[0].message


WRITER = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime
    from pathlib import Path
    from agent.outbox import Outbox
    from agent.store import Database
    from fleetward.clock import ManualClock
    from fleetward.wire import ReportKind
    from tests.agent.reports import report, result

    clock = ManualClock(datetime(2026, 11, 10, tzinfo=UTC))
    box = Outbox(Database.in_state_dir(Path(sys.argv[1])), max_entries=100000, max_bytes=10**9, clock=clock)
    while True:
        stored = box.put(report(ReportKind.TRANSITION, clock.now(), result("a", evidence_kb=2)))
        print(stored.report_id, flush=True)  # only after the commit returned
    """
)


def test_kill_minus_nine_while_writing_loses_nothing_committed(tmp_path: Path) -> None:
    rng = random.Random(4)
    for trial in range(5):
        state = tmp_path / f"state{trial}"
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(state)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).resolve().parents[2],
        )
        assert proc.stdout is not None
        confirmed = [proc.stdout.readline().strip() for _ in range(rng.randint(1, 40))]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        confirmed += [line.strip() for line in proc.stdout if line.strip()]
        db = Database.in_state_dir(state)
        stored = {
            str(i) for i in Outbox(db, max_entries=10, max_bytes=10**9, clock=ManualClock(START)).report_ids()
        }
        db.close()
        assert set(confirmed) <= stored, f"trial {trial}: lost {set(confirmed) - stored}"


def test_a_stored_report_outside_todays_wire_bounds_is_dead_lettered_not_a_crash(db: Database) -> None:
    """An older agent wrote a body the wire now refuses (a NUL in evidence): the queue moves on."""
    box = outbox(db, ManualClock(START))
    first = box.put(report(ReportKind.TRANSITION, START, result("a")))
    second = box.put(report(ReportKind.TRANSITION, START + timedelta(hours=1), result("b")))
    body = json.loads(first.model_dump_json())
    body["results"][0]["evidence"] = [{"name": "bad\u0000byte"}]
    with db.transaction() as conn:
        conn.execute(
            "UPDATE outbox SET body = ? WHERE report_id = ?", (json.dumps(body), str(first.report_id))
        )
    assert [e.report.report_id for e in box.next_batch(10)] == [second.report_id]
    assert box.dead_letters() == 1
    assert box.pending_events() == 1  # a report_refused event tells the collector


def test_event_messages_are_cleaned_before_they_are_queued(db: Database) -> None:
    box = outbox(db, ManualClock(START))
    box.record_event(EventKind.OSQUERY_UNAVAILABLE, "socket \x00 gone \ud800")
    stored = box.put(report(ReportKind.SNAPSHOT, START, result("a")))
    assert stored.events[0].message == "socket \ufffd gone \ufffd"
