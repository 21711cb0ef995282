"""Delivery: the outbox to the collector, at least once, in order, with the report id as idempotency key.

Reports go one at a time, oldest first. A report is acknowledged (removed) only after a 2xx, so a
crash between sending and acknowledging sends it again and the collector answers `duplicate`. A
transient failure stops the flush and backs off exponentially with jitter (`next_delay`); a report
the collector refuses as bad data is moved to the dead letters rather than retried forever; a
rejected device key means enrolling again and retrying.

A poisoned report (one the collector fails on with 5xx every time) must not hold back every later
one: after `MAX_SERVER_ERRORS` consecutive 5xx answers to it, the next report is tried. If that
one is accepted, the collector works and the poisoned report is dead-lettered (with a
`report_refused` event on the next report); if it fails too, the collector itself is failing,
nothing is dead-lettered and the flush backs off as usual.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from agent.collector_client import Delivered, Delivery, KeyRejected, Refused, RetryLater
from agent.errors import AgentError
from agent.outbox import Outbox, OutboxEntry
from agent.status import StatusBook
from fleetward.clock import Clock

BACKOFF_BASE_SECONDS = 5.0
BACKOFF_CAP_SECONDS = 30 * 60.0
# With the backoff above, ten tries span about an hour and a half of a collector that stays up.
MAX_SERVER_ERRORS = 10


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
        rng: random.Random | None = None,
        batch_size: int = 50,
    ) -> None:
        self._outbox = outbox
        self._sender = sender
        self._keys = keys
        self._status = status
        self._clock = clock
        self._rng = rng or random.Random()
        self._batch_size = batch_size
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
                batch = self._outbox.next_batch(min(self._batch_size, max_reports - sent) + skip)
                batch = [e for e in batch if suspect is None or e.seq != suspect[0].seq]
                if not batch:
                    break
                for entry in batch:
                    outcome = self._deliver(entry.body, result)
                    sent += 1
                    if isinstance(outcome, Delivered):
                        self._outbox.ack([entry.report.report_id])
                        result.delivered += 1
                        result.duplicates += int(outcome.ack is not None and outcome.ack.duplicate)
                        self.failures, self.retry_at = 0, None
                        if suspect is not None:  # the collector works: that one report is poisoned
                            self._dead_letter_poisoned(*suspect, result)
                            suspect = None
                    elif isinstance(outcome, Refused):
                        self._outbox.dead_letter(
                            entry, status_code=outcome.status_code, reason=outcome.message
                        )
                        result.dead_lettered += 1
                        result.refused.append(outcome.message)
                    else:
                        errors = self._outbox.note_failure(
                            entry.report.report_id, outcome.message, server_error=outcome.server_error
                        )
                        if suspect is None and errors >= MAX_SERVER_ERRORS:
                            suspect = (entry, outcome)  # try the next report before judging this one
                            break
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

    def _dead_letter_poisoned(self, entry: OutboxEntry, outcome: RetryLater, result: FlushResult) -> None:
        reason = (
            f"the collector failed on this report {MAX_SERVER_ERRORS} times in a row while accepting the "
            f"next one (last answer: {outcome.message})"
        )
        self._outbox.dead_letter(entry, status_code=outcome.status_code, reason=reason)
        result.dead_lettered += 1
        result.refused.append(reason)

    def _deliver(self, body: str, result: FlushResult) -> RetryLater | Delivered | Refused:
        try:
            outcome = self._sender.send_report(body, self._keys.device_key())
            if isinstance(outcome, KeyRejected):
                self._keys.reenroll()
                result.reenrolled = True
                outcome = self._sender.send_report(body, self._keys.device_key())
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
