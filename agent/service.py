"""The agent's two steps: evaluate-and-record, and flush. The loop (agent.scheduler) runs them.

Evaluate-and-record: evaluate the catalogue; compare with the last known state; write ONE report
(a full snapshot when the heartbeat is due, otherwise the transitions, if any, plus any pending
events) and the new last-known state in one transaction, before any network call. Then the loop
flushes at once, so drift reaches the collector as soon as the network allows.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from agent.drift import PolicyStateStore, detect_drift
from agent.evaluation import Evaluation, Evaluator
from agent.outbox import Outbox
from agent.status import StatusBook
from agent.store import Database
from agent.uploader import FlushResult, Uploader
from fleetward import __version__
from fleetward.clock import Clock
from fleetward.errors import QueryError, UnknownPlatformError
from fleetward.policy.baseline import catalogue_provenance
from fleetward.policy.verdict import Result
from fleetward.wire import EventKind, Report, ReportKind

LAST_SNAPSHOT = "evaluation.last_snapshot"
LAST_EVALUATION_FAILURE = "evaluation.last_failure"

if TYPE_CHECKING:
    from agent.bundle_updates import BundleCheck, BundleUpdater
    from fleetward.policy.catalogue import Catalogue

log = logging.getLogger("fleetward.agent")


@dataclass(frozen=True)
class StepOutcome:
    evaluation: Evaluation | None
    report: Report | None
    transitions: int
    problem: str | None = None


class AgentService:
    def __init__(
        self,
        *,
        evaluator: Evaluator,
        db: Database,
        outbox: Outbox,
        uploader: Uploader | None,
        clock: Clock,
        heartbeat: timedelta,
        bundles: BundleUpdater,
        bundle_version: int | None = None,
    ) -> None:
        self.evaluator = evaluator
        self.db = db
        self.outbox = outbox
        self.uploader = uploader
        self.states = PolicyStateStore(db)
        self.status = StatusBook(db)
        self._clock = clock
        self._heartbeat = heartbeat
        self._osquery_down = False
        self.bundles = bundles
        self.bundle_version = bundle_version  # of the signed bundle in force; None: the install's own

    def _baselines_used(self, evaluation: Evaluation, at: datetime) -> list[dict[str, Any]]:
        catalogue = self.evaluator.catalogue
        used = {p.baseline for p in catalogue.for_platform(evaluation.host.platform) if p.baseline}
        return [p.as_dict() for p in catalogue_provenance(catalogue, at) if p.baseline in used]

    def evaluate_step(self) -> StepOutcome:
        try:
            evaluation = self.evaluator.evaluate()
        except (QueryError, UnknownPlatformError) as exc:
            return self._osquery_unavailable(str(exc))
        self._osquery_down = False
        changed = detect_drift(self.states.load(), evaluation.results)
        at = evaluation.observed_at
        with self.db.transaction():
            report = self._report_for(evaluation, changed)
            stored = self.outbox.put(report) if report is not None else None
            if stored is not None and stored.kind is ReportKind.SNAPSHOT:
                self.db.set_meta(LAST_SNAPSHOT, at.isoformat())
            self.states.save(evaluation.results, at)
            self.status.record_evaluation(
                at,
                evaluation.counts(),
                evaluation.host.platform.value,
                transitions=len(changed),
                baselines=self._baselines_used(evaluation, at),
            )
        log.info(
            "evaluated %d policies on %s: %s; %d changed",
            len(evaluation.results),
            evaluation.host.platform.value,
            evaluation.counts(),
            len(changed),
        )
        return StepOutcome(evaluation, stored, len(changed))

    def bundle_step(self) -> BundleCheck:
        """Check for a newer signed policy bundle; once one activates, the next evaluation uses it."""
        return self.bundles.apply(self.bundles.check(), self)

    def use_catalogue(self, catalogue: Catalogue) -> None:
        self.evaluator.catalogue = catalogue

    def flush_step(self, *, force: bool = False) -> FlushResult | None:
        if self.uploader is None:
            return None
        result = self.uploader.flush(force=force)
        if result.delivered or result.dead_lettered:
            log.info("delivered %d reports (%d dead-lettered)", result.delivered, result.dead_lettered)
        if result.stopped_by and result.stopped_by != "backing off":
            log.warning("delivery paused until %s: %s", result.retry_at, result.stopped_by)
        return result

    def _report_for(self, evaluation: Evaluation, changed: Sequence[Result]) -> Report | None:
        if self._snapshot_due(evaluation.observed_at):
            return _report(ReportKind.SNAPSHOT, evaluation, evaluation.results, self.bundle_version)
        if changed or self.outbox.pending_events():
            return _report(ReportKind.TRANSITION, evaluation, changed, self.bundle_version)
        return None

    def _snapshot_due(self, now: datetime) -> bool:
        last = self.db.get_meta(LAST_SNAPSHOT)
        return last is None or now - datetime.fromisoformat(last) >= self._heartbeat

    def _osquery_unavailable(self, message: str) -> StepOutcome:
        log.error("%s", message)
        self.db.set_meta(LAST_EVALUATION_FAILURE, f"{self._clock.now().isoformat()} {message}")
        if not self._osquery_down:  # once per outage, not every cycle
            self.outbox.record_event(EventKind.OSQUERY_UNAVAILABLE, message)
            self._osquery_down = True
        return StepOutcome(None, None, 0, problem=message)


def _report(
    kind: ReportKind, evaluation: Evaluation, results: Sequence[Result], bundle_version: int | None
) -> Report:
    return Report(
        report_id=uuid.uuid4(),
        kind=kind,
        observed_at=evaluation.observed_at,
        agent_version=__version__,
        bundle_version=bundle_version,
        policy_versions={r.policy_id: r.policy_version for r in results},
        results=list(results),
    )
