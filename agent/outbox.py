"""The durable outbox: every report is written here before any network call, and leaves only when
the collector has acknowledged it (or refused it for good, into the dead letters).

Bounded by entries and bytes. When a new report would take it past either bound, it compacts:
older snapshots go (the newest snapshot plus every transition still tell the latest state of every
policy and every change); only if transitions alone overflow are the oldest transitions before the
newest snapshot dropped. Every compaction is recorded: an `outbox_compacted` event rides on the next
report, and `fleetward-agent status` shows it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from pydantic import ValidationError

from agent.store import Database
from fleetward.bounds import clean_text
from fleetward.clock import Clock
from fleetward.wire import MAX_EVENTS_PER_REPORT, AgentEvent, EventKind, Report, ReportKind

LAST_COMPACTION = "outbox.last_compaction"
COMPACTIONS = "outbox.compactions"
LAST_DEAD_LETTER = "outbox.last_dead_letter"


@dataclass(frozen=True)
class OutboxEntry:
    seq: int
    report: Report
    body: str
    attempts: int
    server_errors: int = 0  # consecutive 5xx answers to this very report


@dataclass(frozen=True)
class Compaction:
    at: datetime
    dropped: int
    dropped_transitions: int
    oldest_dropped: str
    newest_dropped: str

    def message(self) -> str:
        kinds = f"{self.dropped - self.dropped_transitions} snapshots"
        if self.dropped_transitions:
            kinds += f" and {self.dropped_transitions} transitions"
        return (
            f"the outbox was full, so {kinds} observed from {self.oldest_dropped} to {self.newest_dropped} "
            "were dropped before delivery; the newest snapshot and all later transitions were kept"
        )


class Outbox:
    def __init__(self, db: Database, *, max_entries: int, max_bytes: int, clock: Clock) -> None:
        self._db = db
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._clock = clock

    # writing -----------------------------------------------------------------------------------
    def put(self, report: Report) -> Report:
        """Store a report durably, with any pending events attached; returns what was stored."""
        with self._db.transaction() as conn:
            room = MAX_EVENTS_PER_REPORT - len(report.events)
            pending = conn.execute(
                "SELECT id, kind, at, message FROM pending_event ORDER BY id LIMIT ?", (max(room, 0),)
            ).fetchall()
            if pending:
                events = [
                    AgentEvent(kind=EventKind(k), at=datetime.fromisoformat(a), message=m)
                    for _, k, a, m in pending
                ]
                report = report.model_copy(update={"events": [*report.events, *events]})
                conn.executemany("DELETE FROM pending_event WHERE id = ?", [(row[0],) for row in pending])
            body = report.model_dump_json()
            conn.execute(
                "INSERT INTO outbox(report_id, kind, observed_at, body, size) VALUES (?, ?, ?, ?, ?)",
                (str(report.report_id), report.kind.value, report.observed_at.isoformat(), body, len(body)),
            )
            self._compact_if_full()
        return report

    def record_event(self, kind: EventKind, message: str) -> None:
        """An event for the collector, sent with the next report."""
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO pending_event(kind, at, message) VALUES (?, ?, ?)",
                (kind.value, self._clock.now().isoformat(), clean_text(message)[:2000]),
            )

    # delivering --------------------------------------------------------------------------------
    def next_batch(self, n: int) -> list[OutboxEntry]:
        """The oldest n reports, in the order they were written."""
        rows = self._db.read(
            "SELECT seq, body, attempts, server_errors FROM outbox ORDER BY seq LIMIT ?", (n,)
        )
        entries = []
        for seq, body, attempts, server_errors in rows:
            try:
                report = Report.model_validate_json(str(body))
            except ValidationError as exc:
                # Written by an older agent and outside today's wire bounds: the collector would
                # refuse it, and it must not stop every later report. Keep it as a dead letter.
                self._dead_letter_unreadable(int(str(seq)), str(body), exc)
                continue
            entries.append(
                OutboxEntry(
                    seq=int(str(seq)),
                    report=report,
                    body=str(body),
                    attempts=int(str(attempts)),
                    server_errors=int(str(server_errors)),
                )
            )
        return entries

    def _dead_letter_unreadable(self, seq: int, body: str, error: ValidationError) -> None:
        try:
            report_id = str(json.loads(body).get("report_id") or f"unreadable-{seq}")
        except (ValueError, AttributeError):
            report_id = f"unreadable-{seq}"
        reason = f"the stored report no longer passes the wire schema ({error.error_count()} problem(s))"
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO dead_letter(report_id, body, status_code, reason, at) VALUES (?, ?, ?, ?, ?)",
                (report_id, body, None, reason, self._clock.now().isoformat()),
            )
            conn.execute("DELETE FROM outbox WHERE seq = ?", (seq,))
            self.record_event(
                EventKind.REPORT_REFUSED, f"report {report_id} was kept as a dead letter: {reason}"
            )

    def ack(self, report_ids: Iterable[UUID]) -> int:
        ids = [(str(i),) for i in report_ids]
        with self._db.transaction() as conn:
            before = conn.total_changes
            conn.executemany("DELETE FROM outbox WHERE report_id = ?", ids)
            return conn.total_changes - before

    def note_failure(self, report_id: UUID, error: str, *, server_error: bool = False) -> int:
        """Count a failed delivery; returns the report's consecutive 5xx answers so far."""
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?, "
                "server_errors = CASE WHEN ? THEN server_errors + 1 ELSE 0 END WHERE report_id = ?",
                (error[:500], server_error, str(report_id)),
            )
            row = conn.execute(
                "SELECT server_errors FROM outbox WHERE report_id = ?", (str(report_id),)
            ).fetchone()
        return int(row[0]) if row else 0

    def dead_letter(self, entry: OutboxEntry, *, status_code: int | None, reason: str) -> None:
        """Move a report the collector refused for good out of the queue, keeping it for inspection."""
        now = self._clock.now().isoformat()
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO dead_letter(report_id, body, status_code, reason, at) VALUES (?, ?, ?, ?, ?)",
                (str(entry.report.report_id), entry.body, status_code, reason[:2000], now),
            )
            conn.execute("DELETE FROM outbox WHERE seq = ?", (entry.seq,))
            # Tell the collector with the next report that one was lost to a refusal, not silently.
            self.record_event(
                EventKind.REPORT_REFUSED,
                f"report {entry.report.report_id} observed {entry.report.observed_at.isoformat()} was refused "
                f"(HTTP {status_code}) and kept as a dead letter: {reason[:300]}",
            )
            self._db.set_meta(
                LAST_DEAD_LETTER,
                json.dumps(
                    {
                        "report_id": str(entry.report.report_id),
                        "status_code": status_code,
                        "reason": reason[:500],
                        "at": now,
                    }
                ),
            )

    # inspecting --------------------------------------------------------------------------------
    def depth(self) -> int:
        return int(str(self._db.read("SELECT COUNT(*) FROM outbox")[0][0]))

    def size_bytes(self) -> int:
        return int(str(self._db.read("SELECT COALESCE(SUM(size), 0) FROM outbox")[0][0]))

    def pending_events(self) -> int:
        return int(str(self._db.read("SELECT COUNT(*) FROM pending_event")[0][0]))

    def dead_letters(self) -> int:
        return int(str(self._db.read("SELECT COUNT(*) FROM dead_letter")[0][0]))

    def report_ids(self) -> list[UUID]:
        return [UUID(str(row[0])) for row in self._db.read("SELECT report_id FROM outbox ORDER BY seq")]

    # the bound ---------------------------------------------------------------------------------
    def _over_bound(self) -> bool:
        count, size = self._db.read("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM outbox")[0]
        return int(str(count)) > self._max_entries or int(str(size)) > self._max_bytes

    def _compact_if_full(self) -> None:
        if not self._over_bound():
            return
        newest_snapshot = self._db.read(
            "SELECT MAX(seq) FROM outbox WHERE kind = ?", (ReportKind.SNAPSHOT.value,)
        )[0][0]
        dropped: list[tuple[int, str, str]] = []
        with self._db.transaction() as conn:
            # 1. every older snapshot: the newest one plus every transition still tells everything, and
            #    clearing them all leaves headroom, so compactions (and their events) stay rare.
            if newest_snapshot is not None:
                rows = conn.execute(
                    "SELECT seq, kind, observed_at FROM outbox WHERE kind = ? AND seq < ? ORDER BY seq",
                    (ReportKind.SNAPSHOT.value, newest_snapshot),
                ).fetchall()
                for seq, kind, observed in rows:
                    conn.execute("DELETE FROM outbox WHERE seq = ?", (seq,))
                    dropped.append((seq, kind, observed))
            # 2. still full: the oldest entries before the newest snapshot (or all but the newest entry).
            limit = newest_snapshot if newest_snapshot is not None else self._newest_seq()
            while self._over_bound():
                row = conn.execute(
                    "SELECT seq, kind, observed_at FROM outbox WHERE seq < ? ORDER BY seq LIMIT 1", (limit,)
                ).fetchone()
                if row is None:
                    break  # only what must be kept is left: stay over the bound rather than lose it
                conn.execute("DELETE FROM outbox WHERE seq = ?", (row[0],))
                dropped.append(row)
            if dropped:
                self._record_compaction(dropped)

    def _newest_seq(self) -> int:
        return int(str(self._db.read("SELECT COALESCE(MAX(seq), 0) FROM outbox")[0][0]))

    def _record_compaction(self, dropped: Sequence[tuple[int, str, str]]) -> None:
        observed = sorted(row[2] for row in dropped)
        compaction = Compaction(
            at=self._clock.now(),
            dropped=len(dropped),
            dropped_transitions=sum(1 for row in dropped if row[1] == ReportKind.TRANSITION.value),
            oldest_dropped=observed[0],
            newest_dropped=observed[-1],
        )
        self.record_event(EventKind.OUTBOX_COMPACTED, compaction.message())
        total = int(self._db.get_meta(COMPACTIONS) or "0") + 1
        self._db.set_meta(COMPACTIONS, str(total))
        self._db.set_meta(
            LAST_COMPACTION,
            json.dumps(
                {
                    "at": compaction.at.isoformat(),
                    "dropped": compaction.dropped,
                    "message": compaction.message(),
                }
            ),
        )
