"""Group commit: the reports of concurrent requests written by one thread, many per transaction.

Each API process has one `GroupCommitter`. A request hands it an authenticated report and waits;
the writer thread takes every report waiting (up to `max_batch`), ingests them together in one
transaction with `ingest_reports`, commits, and only then answers each request. So a 2xx still
means "durably stored", a crash before the commit answers nobody (the agent sends again and is
told `duplicate` if the commit had happened), and the cost of a transaction, its round trips and
its commit are shared by every report in it. Nothing waits for a batch to fill: while one
transaction runs, the next batch gathers.

Each report is authenticated in the transaction that writes it: a device key not already
verified by the API process is looked up with the rest of the batch (one query for all of them),
so a revoked key cannot write even one more report, and no request costs a lookup of its own.
Then `admit` (the per-device rate limit) is asked about each device before anything is written.

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
from sqlalchemy.orm import Session

from collector.errors import Unauthorized
from collector.store.credentials import devices_by_key_digest
from collector.store.engine import Database
from collector.store.ingest import Incoming, Ingested, IngestOutcome, ingest_reports
from collector.store.policies import PolicyRegistry
from fleetward.wire import ErrorCode, Report

MAX_BATCH = 64
UNKNOWN_DEVICE_KEY = "the device key is unknown or revoked; enroll again with the enroll secret"


@dataclass(frozen=True)
class Delivery:
    """A report and who sent it: a device already authenticated, or the digest of its device key."""

    report: Report
    device_id: str | None = None
    key_digest: str | None = None
    request: int | None = None  # the deliveries of one request share one rate-limit admission


@dataclass(frozen=True)
class Accepted:
    """A delivery's answer: the device it was authenticated as, and what ingesting it did."""

    device_id: str
    outcome: Ingested


Answer = Accepted | BaseException  # what a report's request gets: its outcome, or the error


@dataclass
class _Waiting:
    """Reports handed over together (one request's), answered together once committed."""

    items: list[Delivery]
    answer: Callable[[list[Answer]], None]


class GroupCommitter:
    def __init__(
        self,
        db: Database,
        registry: PolicyRegistry,
        *,
        validity: timedelta,
        now: Callable[[], datetime],
        admit: Callable[[str], None] = lambda _device_id: None,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self._db = db
        self._registry = registry
        self._validity = validity
        self._now = now
        self._admit = admit
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Waiting | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.batches = 0  # transactions committed, for metrics

    async def ingest(self, item: Delivery) -> Accepted:
        """Ingest one report with whatever else is waiting; returns once it is committed."""
        (outcome,) = await self.ingest_all([item])
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    async def ingest_all(self, items: list[Delivery]) -> list[Answer]:
        """Ingest these reports (in this order, in one transaction when they fit one batch, with
        whatever else is waiting); returns each one's outcome or error once committed."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[list[Answer]] = loop.create_future()

        def answer(outcomes: list[Answer]) -> None:
            loop.call_soon_threadsafe(_settle, done, outcomes)

        self._start()
        self._queue.put(_Waiting(list(items), answer))
        return await done

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
            batch, size, stop = [first], len(first.items), False
            while size < self._max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
                size += len(more.items)
            self._write(batch)
            if stop:
                return

    def _write(self, batch: list[_Waiting]) -> None:
        items = [item for waiting in batch for item in waiting.items]
        answers: list[Answer]
        try:
            answers = list(self._commit(items))
        except Exception:  # each report is retried alone below; errors reach its request
            answers = [self._alone(item) for item in items]
        for waiting in batch:
            mine, answers = answers[: len(waiting.items)], answers[len(waiting.items) :]
            waiting.answer(mine)

    def _alone(self, item: Delivery) -> Answer:
        for attempt in range(2):
            try:
                return self._commit([item])[0]
            except IntegrityError as exc:  # the same report id delivered twice at once: the retry sees it
                if attempt:
                    return exc
            except Exception as exc:  # handed to the request, which answers it
                return exc
        raise AssertionError("unreachable")

    def _commit(self, items: list[Delivery]) -> list[Answer]:
        with self._db.write() as session:
            checked = self._authenticate(session, items)
            admitted = [
                Incoming(device, item.report)
                for device, item in zip(checked, items, strict=True)
                if isinstance(device, str)
            ]
            outcomes = iter(
                ingest_reports(
                    session,
                    admitted,
                    received_at=self._now(),
                    validity=self._validity,
                    registry=self._registry,
                )
            )
        self.batches += 1
        answers: list[Answer] = []
        for device in checked:
            if not isinstance(device, str):
                answers.append(device)
                continue
            outcome = next(outcomes)
            if isinstance(outcome, IngestOutcome):
                self._registry.remember(set(outcome.registered))  # committed: safe to remember
            answers.append(Accepted(device, outcome))
        return answers

    def _authenticate(self, session: Session, items: list[Delivery]) -> list[str | Answer]:
        """Each delivery's device id, or why it is refused (unknown key, rate limit)."""
        digests = {i.key_digest for i in items if i.device_id is None and i.key_digest is not None}
        devices = devices_by_key_digest(session, digests) if digests else {}
        answers: list[str | Answer] = []
        admitted: dict[tuple[str, int], Exception | None] = {}  # a batch request is admitted once
        for item in items:
            device_id = item.device_id or devices.get(item.key_digest or "")
            if device_id is None:
                answers.append(Unauthorized(UNKNOWN_DEVICE_KEY, code=ErrorCode.DEVICE_KEY_INVALID))
                continue
            once = (device_id, item.request) if item.request is not None else None
            if once is None or once not in admitted:
                try:
                    self._admit(device_id)
                    refusal = None
                except Exception as exc:  # the rate limit's refusal, answered to that request alone
                    refusal = exc
                if once is not None:
                    admitted[once] = refusal
            else:
                refusal = admitted[once]
            answers.append(device_id if refusal is None else refusal)
        return answers


def _settle(done: asyncio.Future[list[Answer]], outcomes: list[Answer]) -> None:
    if not done.done():  # the request may have been cancelled (client gone): nothing to answer
        done.set_result(outcomes)
