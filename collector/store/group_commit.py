"""Group commit: the reports of concurrent requests written by one thread, many per transaction.

Each API process has one `GroupCommitter`. A request hands it an authenticated report and waits;
the writer thread takes every report waiting (up to `max_batch`), ingests them together in one
transaction with `ingest_reports`, commits, and only then answers each request. So a 2xx still
means "durably stored", a crash before the commit answers nobody (the agent sends again and is
told `duplicate` if the commit had happened), and the cost of a transaction, its round trips and
its commit are shared by every report in it. Nothing waits for a batch to fill: while one
transaction runs, the next batch gathers.

If a batch fails (a database error, or one report id sent by two devices at once), each of its
reports is retried alone in its own transaction, so one bad report fails only its own request.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError

from collector.store.engine import Database
from collector.store.ingest import Incoming, Ingested, IngestOutcome, ingest_reports
from collector.store.policies import PolicyRegistry

MAX_BATCH = 64


@dataclass
class _Waiting:
    item: Incoming
    answer: Callable[[Ingested | BaseException], None]


class GroupCommitter:
    def __init__(
        self,
        db: Database,
        registry: PolicyRegistry,
        *,
        validity: timedelta,
        now: Callable[[], datetime],
        max_batch: int = MAX_BATCH,
    ) -> None:
        self._db = db
        self._registry = registry
        self._validity = validity
        self._now = now
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Waiting | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.batches = 0  # transactions committed, for metrics

    async def ingest(self, item: Incoming) -> Ingested:
        """Ingest one report with whatever else is waiting; returns once it is committed."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Ingested | BaseException] = loop.create_future()

        def answer(outcome: Ingested | BaseException) -> None:
            loop.call_soon_threadsafe(_settle, done, outcome)

        self._start()
        self._queue.put(_Waiting(item, answer))
        outcome = await done
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def close(self) -> None:
        """Stop the writer once what is queued has been written."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join()

    def _start(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="fleetward-group-commit", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < self._max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
            self._write(batch)
            if stop:
                return

    def _write(self, batch: list[_Waiting]) -> None:
        try:
            outcomes = self._commit([w.item for w in batch])
        except Exception:  # each report is retried alone below; errors reach its request
            for waiting in batch:
                waiting.answer(self._alone(waiting.item))
            return
        for waiting, outcome in zip(batch, outcomes, strict=True):
            waiting.answer(outcome)

    def _alone(self, item: Incoming) -> Ingested | BaseException:
        for attempt in range(2):
            try:
                return self._commit([item])[0]
            except IntegrityError as exc:  # the same report id delivered twice at once: the retry sees it
                if attempt:
                    return exc
            except Exception as exc:  # handed to the request, which answers it
                return exc
        raise AssertionError("unreachable")

    def _commit(self, items: list[Incoming]) -> list[Ingested]:
        with self._db.write() as session:
            outcomes = ingest_reports(
                session, items, received_at=self._now(), validity=self._validity, registry=self._registry
            )
        self.batches += 1
        for outcome in outcomes:
            if isinstance(outcome, IngestOutcome):
                self._registry.remember(set(outcome.registered))  # committed: safe to remember
                break
        return outcomes


def _settle(done: asyncio.Future[Ingested | BaseException], outcome: Ingested | BaseException) -> None:
    if not done.done():  # the request may have been cancelled (client gone): nothing to answer
        done.set_result(outcome)
