"""Evaluate the catalogue on one device: render each policy's SQL, ask osquery, judge the answer.

Pure apart from the two things passed in: `run_query` (osquery, or the embedded engine over a
recorded device) and a monotonic timer for durations. `run_query` raises QueryError when osquery
cannot answer; that, and any answer that is not a list of string rows, is an `error`, never a pass.
So is a policy whose baseline lacks the floor that should be in force (it is not run).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import datetime

from fleetward.errors import PolicyError, QueryError
from fleetward.policy.baseline import render_query, stale_baseline
from fleetward.policy.catalogue import Catalogue
from fleetward.policy.model import Platform, Policy
from fleetward.policy.verdict import QueryOutcome, Result, evaluate

RunQuery = Callable[[str], list[dict[str, str]]]
Timer = Callable[[], float]


def evaluate_catalogue(
    catalogue: Catalogue,
    platform: Platform,
    run_query: RunQuery,
    at: datetime,
    *,
    policies: Iterable[Policy] | None = None,
    timer: Timer = time.monotonic,
) -> list[Result]:
    """One result per policy, in catalogue order; not-applicable policies are not run."""
    chosen = catalogue.policies if policies is None else tuple(policies)
    return [evaluate_policy(policy, catalogue, platform, run_query, at, timer=timer) for policy in chosen]


def evaluate_policy(
    policy: Policy,
    catalogue: Catalogue,
    platform: Platform,
    run_query: RunQuery,
    at: datetime,
    *,
    timer: Timer = time.monotonic,
) -> Result:
    if not policy.applies_to(platform):
        return evaluate(policy, platform, None)
    try:
        stale = stale_baseline(policy, catalogue, at)
        sql = render_query(policy, catalogue, at)
    except (PolicyError, ValueError, TypeError) as exc:
        return evaluate(policy, platform, QueryOutcome.failed(f"cannot render the query: {exc}"))
    if stale is not None:
        # A missing floor would silently keep an old one in force: that is no verdict.
        return evaluate(policy, platform, QueryOutcome.failed(stale.message))
    started = timer()
    try:
        answer = run_query(sql)
    except QueryError as exc:
        return evaluate(policy, platform, QueryOutcome.failed(str(exc), _elapsed_ms(timer, started)))
    duration = _elapsed_ms(timer, started)
    problem = shape_problem(answer)
    if problem is not None:
        return evaluate(policy, platform, QueryOutcome.failed(problem, duration))
    return evaluate(policy, platform, QueryOutcome.ok(answer, duration))


def shape_problem(answer: object) -> str | None:
    """Why an answer is not osquery's shape (a list of rows of text), or None when it is."""
    if not isinstance(answer, list):
        return f"osquery answered {type(answer).__name__}, expected a list of rows"
    for index, row in enumerate(answer):
        if not isinstance(row, dict):
            return f"row {index} is {type(row).__name__}, expected a mapping of column to text"
        for key, value in row.items():
            if not isinstance(key, str) or not isinstance(value, str):
                return f"row {index}: column {key!r} has a {type(value).__name__} value; osquery returns text"
    return None


def _elapsed_ms(timer: Timer, started: float) -> float:
    return max(0.0, (timer() - started) * 1000.0)
