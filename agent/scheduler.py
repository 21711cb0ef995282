"""The service loop: `schedule` runs the steps on their cadences until asked to stop.

- evaluate every `evaluate_every` plus a random jitter up to `jitter` (schedule's `every(a).to(b)`
  re-draws it after each run, so a fleet that booted together spreads out), then flush at once so
  transitions leave immediately;
- flush every `flush_every` (the uploader's own backoff decides whether it actually sends);
- the heartbeat snapshot is decided inside the evaluate step by the injected clock;
- before each evaluation, one conditional GET for a newer signed policy bundle (agent.bundle_updates);
- if the first evaluation finds no osqueryd (the laptop is booting and osqueryd starts after the agent),
  it is tried again after 5, 10, 15 and 30 s, so within a minute, then at the normal interval.

SIGTERM/SIGINT set the stop event: the current step finishes (an evaluation in progress stops between
queries and records nothing), the loop exits, the database is closed cleanly. `sleep` is injected
(by default it waits on the stop event, so a signal wakes it at once).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

import schedule

from agent.errors import EvaluationInterrupted
from agent.settings import AgentSettings

log = logging.getLogger("fleetward.agent")
MAX_NAP_SECONDS = 5.0
STARTUP_RETRY_SECONDS = (5, 10, 15, 30)  # all within a minute of start


class Steps(Protocol):
    def bundle_step(self) -> object: ...

    def evaluate_step(self) -> object: ...

    def flush_step(self, *, force: bool = False) -> object: ...


@dataclass(frozen=True)
class Timings:
    evaluate_every: timedelta
    jitter: timedelta
    flush_every: timedelta

    @classmethod
    def from_settings(cls, settings: AgentSettings) -> Timings:
        return cls(
            evaluate_every=timedelta(minutes=settings.interval_minutes),
            jitter=timedelta(minutes=settings.jitter_minutes),
            flush_every=timedelta(seconds=settings.flush_interval_seconds),
        )


class AgentLoop:
    def __init__(
        self,
        steps: Steps,
        timings: Timings,
        *,
        stop: threading.Event,
        sleep: Callable[[float], object] | None = None,
    ) -> None:
        self._steps = steps
        self._timings = timings
        self._stop = stop
        self._sleep = sleep or stop.wait
        self.cycles = 0

    def run(self) -> None:
        scheduler = schedule.Scheduler()  # our own, not schedule's module-level default
        every = _whole_seconds(self._timings.evaluate_every)
        latest = every + _whole_seconds(self._timings.jitter, minimum=0)
        scheduler.every(every).to(latest).seconds.do(self._evaluate_then_flush)
        scheduler.every(_whole_seconds(self._timings.flush_every)).seconds.do(self._flush)
        first = self._evaluate_then_flush()  # at start: the laptop may have been off for days
        if _failed(first):
            self._retry_soon(scheduler, STARTUP_RETRY_SECONDS)
        while not self._stop.is_set():
            scheduler.run_pending()
            if self._stop.is_set():
                break
            idle = scheduler.idle_seconds
            self._sleep(min(MAX_NAP_SECONDS, max(0.0, idle if idle is not None else MAX_NAP_SECONDS)))
        log.info("stopped after %d evaluations", self.cycles)

    def _evaluate_then_flush(self) -> object:
        if self._stop.is_set():
            return None
        self._steps.bundle_step()  # a newer signed bundle, if any, is used by this evaluation
        try:
            outcome = self._steps.evaluate_step()
        except EvaluationInterrupted:
            return None
        self.cycles += 1
        if not self._stop.is_set():
            self._steps.flush_step(force=True)
        return outcome

    def _retry_soon(self, scheduler: schedule.Scheduler, delays: tuple[int, ...]) -> None:
        """One-shot evaluations after each delay in turn, until one works; the interval job goes on."""
        if not delays or self._stop.is_set():
            return
        delay, rest = delays[0], delays[1:]

        def attempt() -> type[schedule.CancelJob]:
            if _failed(self._evaluate_then_flush()):
                self._retry_soon(scheduler, rest)
            return schedule.CancelJob

        log.info("osquery did not answer at start; trying again in %d s", delay)
        scheduler.every(delay).seconds.do(attempt)

    def _flush(self) -> None:
        if not self._stop.is_set():
            self._steps.flush_step()


def _failed(outcome: object) -> bool:
    # AgentService.evaluate_step returns a StepOutcome whose `problem` says why nothing was evaluated.
    return getattr(outcome, "problem", None) is not None


def _whole_seconds(delta: timedelta, minimum: int = 1) -> int:
    return max(minimum, round(delta.total_seconds()))


def stop_on_signals(stop: threading.Event) -> None:
    """SIGTERM (systemd, launchd) and SIGINT (Ctrl-C) ask for a clean stop after the current step."""

    def handler(signum: int, _frame: object) -> None:
        log.info("received %s: stopping after the current step", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
