"""Delivery: the outbox to the collector, at least once, in order, with the report id as idempotency key.

Reports go oldest first. A report is acknowledged (removed) only after a 2xx, so a crash between
sending and acknowledging sends it again and the collector answers `duplicate`. A transient failure
stops the flush and backs off exponentially with jitter (`next_delay`); a report the collector
refuses as bad data is moved to the dead letters rather than retried forever; a rejected device key
means enrolling again and retrying.

When more than one report is waiting (catching up after a time offline), up to `batch_size` of them
go in one `POST /v1/reports/batch`, still oldest first, and each report's own status in the answer
is acted on exactly as the same answer to it alone would be. Every report of a batch has been
through the collector when the answer arrives, so a transient failure of one does not undo the
others: the stored ones are acknowledged, the refused ones dead-lettered, and only then does the
flush stop and back off (the failed one is sent again later; the collector places reports by
`observed_at`, so arriving after a newer one changes nothing it derives). A batch refused as a whole
(a report in it the collector's schema refuses, 413, a 5xx) is sent again one report per request, so
the report at fault is found and handled alone; a collector without the batch route (404/405) gets
one report per request from then on.

A poisoned report (one the collector fails on with 5xx every time) must not hold back every later
one: after `MAX_SERVER_ERRORS` consecutive 5xx answers to it, the next report is tried. If that
one is accepted, the collector works and the poisoned report is dead-lettered (with a
`report_refused` event on the next report); if it fails too, the collector itself is failing,
nothing is dead-lettered and the flush backs off as usual.
"""

from __future__ import annotations

import logging
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from agent.collector_client import (
    BatchDelivery,
    Delivered,
    Delivery,
    KeyRejected,
    NoBatchEndpoint,
    Refused,
    RetryLater,
)
from agent.errors import AgentError
from agent.outbox import Outbox, OutboxEntry
from agent.status import StatusBook
from fleetward.clock import Clock

BACKOFF_BASE_SECONDS = 5.0
BACKOFF_CAP_SECONDS = 30 * 60.0
# With the backoff above, ten tries span about an hour and a half of a collector that stays up.
MAX_SERVER_ERRORS = 10
# Half the collector's default request limit (2 MiB), so a batch of large reports is not refused as
# a whole for its size; a single report over the limit is refused on its own (413) as before.
MAX_BATCH_BYTES = 1024 * 1024
READ_AHEAD = 64  # reports read from the outbox at a time

Outcome = Delivered | Refused | RetryLater  # what the uploader acts on, per report
_Sent = TypeVar("_Sent")
_log = logging.getLogger("fleetward.agent.uploader")


def next_delay(
    attempt: int,
    rng: random.Random,
    *,
    base: float = BACKOFF_BASE_SECONDS,
    cap: float = BACKOFF_CAP_SECONDS,
) -> float:
    """Seconds to wait after the `attempt`-th consecutive failure (1-based): exponential, capped, jittered.

    "Equal jitter": half the exponential step is kept so the wait still grows, the other half is random
    so a fleet coming back online together does not retry in lockstep.
    """
    step = min(cap, base * 2.0 ** max(0, attempt - 1))
    return step / 2 + rng.uniform(0, step / 2)


class ReportSender(Protocol):
    def send_report(self, body: str, device_key: str) -> Delivery: ...

    def send_batch(self, bodies: list[str], device_key: str) -> BatchDelivery: ...


class DeviceKeys(Protocol):
    def device_key(self) -> str: ...

    def reenroll(self) -> object: ...


@dataclass
class FlushResult:
    delivered: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    reenrolled: bool = False
    stopped_by: str | None = None
    retry_at: datetime | None = None
    refused: list[str] = field(default_factory=list)


class Uploader:
    def __init__(
        self,
        outbox: Outbox,
        sender: ReportSender,
        keys: DeviceKeys,
        *,
        status: StatusBook,
        clock: Clock,
        batch_size: int,
        rng: random.Random | None = None,
    ) -> None:
        self._outbox = outbox
        self._sender = sender
        self._keys = keys
        self._status = status
        self._clock = clock
        self._rng = rng or random.Random()
        self._batch_size = batch_size
        self.batches = batch_size > 1  # off for good once the collector shows it has no batch route
        self.failures = 0
        self.retry_at: datetime | None = None

    def due(self) -> bool:
        return self.retry_at is None or self._clock.now() >= self.retry_at

    def flush(self, *, force: bool = False, max_reports: int = 10_000) -> FlushResult:
        """Send what is waiting, oldest first, until the outbox is empty or something fails."""
        result = FlushResult()
        if not force and not self.due():
            result.stopped_by, result.retry_at = "backing off", self.retry_at
            return result
        sent = 0
        suspect: tuple[OutboxEntry, RetryLater] | None = None  # failed MAX_SERVER_ERRORS times
        try:
            while sent < max_reports:
                skip = 0 if suspect is None else 1
                entries = self._outbox.next_batch(
                    min(max(READ_AHEAD, self._batch_size), max_reports - sent) + skip
                )
                entries = [e for e in entries if suspect is None or e.seq != suspect[0].seq]
                if not entries:
                    break
                work = deque(self._groups(entries))
                while work:
                    group = work.popleft()
                    outcomes = self._send(group, result)
                    if outcomes is None:  # not answered report by report: send them one at a time
                        work.extendleft([entry] for entry in reversed(group))
                        continue
                    sent += len(group)
                    delivered, failed = self._settle(group, outcomes, result)
                    if delivered and suspect is not None:  # the collector works: that report is poisoned
                        self._dead_letter_poisoned(*suspect, result)
                        suspect = None
                    if delivered:  # the others were accepted: a report failing for good is poisoned
                        for entry, outcome, _ in [f for f in failed if f[2] >= MAX_SERVER_ERRORS]:
                            self._dead_letter_poisoned(entry, outcome, result)
                        failed = [f for f in failed if f[2] < MAX_SERVER_ERRORS]
                    if not failed:
                        continue
                    if suspect is None and len(failed) == 1 and failed[0][2] >= MAX_SERVER_ERRORS:
                        suspect = failed[0][:2]  # try the next report before judging this one
                        break
                    outcome = failed[0][1]
                    self._back_off(outcome.message, outcome.retry_after)
                    result.stopped_by, result.retry_at = outcome.message, self.retry_at
                    return result
            if suspect is not None:  # nothing after it to tell a poisoned report from a failing collector
                self._back_off(suspect[1].message, suspect[1].retry_after)
                result.stopped_by, result.retry_at = suspect[1].message, self.retry_at
        finally:
            if result.delivered:
                self._status.record_delivery(self._clock.now(), result.delivered)
        return result

    def _groups(self, entries: list[OutboxEntry]) -> list[list[OutboxEntry]]:
        """Consecutive runs of the entries, each sent in one request: up to `batch_size` reports and
        MAX_BATCH_BYTES, or one report each when batches are off."""
        if not self.batches:
            return [[entry] for entry in entries]
        groups: list[list[OutboxEntry]] = []
        size = 0
        for entry in entries:
            if groups and len(groups[-1]) < self._batch_size and size + len(entry.body) <= MAX_BATCH_BYTES:
                groups[-1].append(entry)
                size += len(entry.body)
            else:
                groups.append([entry])
                size = len(entry.body)
        return groups

    def _send(self, group: list[OutboxEntry], result: FlushResult) -> list[Outcome] | None:
        """Each report's outcome, in order; None when the batch must go again one report at a time."""
        if len(group) == 1:
            (entry,) = group
            return [
                _per_report(self._with_key(lambda key: self._sender.send_report(entry.body, key), result))
            ]
        answer = self._with_key(lambda key: self._sender.send_batch([e.body for e in group], key), result)
        if isinstance(answer, list):
            return [_per_report(outcome) for outcome in answer]
        if isinstance(answer, NoBatchEndpoint):
            _log.info(
                "the collector has no batch endpoint (HTTP %s): sending one report per request",
                answer.status_code,
            )
            self.batches = False
            return None
        if isinstance(answer, RetryLater) and answer.status_code is None:
            return [answer] * len(group)  # the collector was not reached: as one report would fail
        return None  # refused or failed as a whole: one by one finds the report at fault

    def _settle(
        self, group: list[OutboxEntry], outcomes: list[Outcome], result: FlushResult
    ) -> tuple[bool, list[tuple[OutboxEntry, RetryLater, int]]]:
        """Act on each report's outcome; whether any was stored, and those to try again (with their
        consecutive 5xx answers)."""
        delivered = False
        failed: list[tuple[OutboxEntry, RetryLater, int]] = []
        for entry, outcome in zip(group, outcomes, strict=True):
            if isinstance(outcome, Delivered):
                self._outbox.ack([entry.report.report_id])
                result.delivered += 1
                result.duplicates += int(outcome.ack is not None and outcome.ack.duplicate)
                self.failures, self.retry_at = 0, None
                delivered = True
            elif isinstance(outcome, Refused):
                self._outbox.dead_letter(entry, status_code=outcome.status_code, reason=outcome.message)
                result.dead_lettered += 1
                result.refused.append(outcome.message)
            else:
                errors = self._outbox.note_failure(
                    entry.report.report_id, outcome.message, server_error=outcome.server_error
                )
                failed.append((entry, outcome, errors))
        return delivered, failed

    def _dead_letter_poisoned(self, entry: OutboxEntry, outcome: RetryLater, result: FlushResult) -> None:
        reason = (
            f"the collector failed on this report {MAX_SERVER_ERRORS} times in a row while accepting the "
            f"next one (last answer: {outcome.message})"
        )
        self._outbox.dead_letter(entry, status_code=outcome.status_code, reason=reason)
        result.dead_lettered += 1
        result.refused.append(reason)

    def _with_key(self, send: Callable[[str], _Sent], result: FlushResult) -> _Sent | RetryLater:
        """`send` with the device key; once more with a new key if the collector rejects this one."""
        try:
            outcome = send(self._keys.device_key())
            if isinstance(outcome, KeyRejected):
                self._keys.reenroll()
                result.reenrolled = True
                outcome = send(self._keys.device_key())
        except AgentError as exc:  # EnrollmentError, StateError: keep the report, try again later
            return RetryLater(str(exc))
        if isinstance(outcome, KeyRejected):
            return RetryLater(f"the collector rejected a freshly enrolled key: {outcome.message}")
        return outcome

    def _back_off(self, message: str, retry_after: float | None) -> None:
        self.failures += 1
        delay = max(next_delay(self.failures, self._rng), retry_after or 0.0)
        self.retry_at = self._clock.now() + timedelta(seconds=delay)
        self._status.record_failure(self._clock.now(), message, self.retry_at)


def _per_report(outcome: Delivery) -> Outcome:
    # `_with_key` has already enrolled again once; and a batch is authenticated as a whole (401
    # refuses all of it), so a 401 for one report of it is a collector fault. Either way: later.
    if isinstance(outcome, KeyRejected):
        return RetryLater(outcome.message, None, 401)
    return outcome
