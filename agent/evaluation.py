"""One evaluation of the catalogue on this laptop, under an overall deadline.

The queries run in a worker thread. Each has its own timeout (the runner's), and the whole
evaluation has a deadline: when it passes, the connection is closed under the worker, the policies
not yet answered are `error` ("not run before the deadline"), and the loop moves on. A hung
osqueryd therefore never stalls the agent. Identity and platform come from osquery's answers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from agent.errors import EvaluationInterrupted
from agent.identity import read_host
from agent.osquery.runner import QueryRunner
from fleetward.clock import Clock
from fleetward.errors import QueryError
from fleetward.policy.catalogue import Catalogue
from fleetward.policy.run import evaluate_policy
from fleetward.policy.verdict import QueryOutcome, Result, evaluate
from fleetward.wire import HostIdentity

RunnerFactory = Callable[[], QueryRunner]


@dataclass(frozen=True)
class Evaluation:
    host: HostIdentity
    observed_at: datetime
    results: list[Result]
    complete: bool

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for result in self.results:
            counts[result.status.value] = counts.get(result.status.value, 0) + 1
        return counts


class _Progress:
    """What the worker has done, readable by the caller even if the worker never returns."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.host: HostIdentity | None = None
        self.results: list[Result] = []
        self.error: BaseException | None = None
        self.abandoned = False


class Evaluator:
    def __init__(
        self,
        catalogue: Catalogue,
        runner_factory: RunnerFactory,
        clock: Clock,
        *,
        deadline_seconds: float,
        practice: str | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.catalogue = catalogue
        self._runner_factory = runner_factory
        self._clock = clock
        self._deadline = deadline_seconds
        self._practice = practice
        self._stop = stop or threading.Event()

    def evaluate(self) -> Evaluation:
        """Raises QueryError (incl. OsqueryUnavailable) or UnknownPlatformError if the device cannot be
        identified; otherwise every policy has a result, errors included."""
        at = self._clock.now()
        runner = self._runner_factory()
        progress = _Progress()
        worker = threading.Thread(
            target=self._work, args=(runner, progress, at), daemon=True, name="fleetward-evaluation"
        )
        worker.start()
        worker.join(self._deadline)
        with progress.lock:
            finished = not worker.is_alive()
            progress.abandoned = True
            host, results, error = progress.host, list(progress.results), progress.error
        # Closing wakes a worker still blocked on osquery; it then sees `abandoned` and stops.
        runner.close()
        if error is not None:
            raise error
        if host is None:
            raise QueryError(f"osquery did not identify the device within {self._deadline:g}s")
        if finished and self._stop.is_set() and len(results) < len(self.catalogue.policies):
            raise EvaluationInterrupted("the evaluation was interrupted by shutdown; nothing was recorded")
        done = {r.policy_id for r in results}
        missing = [
            evaluate(
                p,
                host.platform,
                QueryOutcome.failed(f"not run: the evaluation passed its deadline of {self._deadline:g}s"),
            )
            for p in self.catalogue.policies
            if p.id not in done
        ]
        return Evaluation(host=host, observed_at=at, results=results + missing, complete=not missing)

    def _work(self, runner: QueryRunner, progress: _Progress, at: datetime) -> None:
        try:
            host = read_host(runner, self._practice)
        except Exception as exc:  # not swallowed: handed to the caller's thread, which raises it
            with progress.lock:
                progress.error = exc
            return
        with progress.lock:
            progress.host = host
        for policy in self.catalogue.policies:
            if self._stop.is_set():
                return
            result = evaluate_policy(policy, self.catalogue, host.platform, runner.query, at)
            with progress.lock:
                if progress.abandoned:
                    return
                progress.results.append(result)
