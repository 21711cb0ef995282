"""Status runs: how a (device, policy) history is kept without storing every observation.

A run is a stretch of identical verdicts (same status, same policy version): it starts at the
first observation (`since`, a transition) and ends at the last one that confirmed it
(`last_seen`). A new run starts on a change of status or policy version, and also when the
device was silent for longer than the validity period, so that inside a run no gap is ever long
enough to make the pair stale. That keeps point-in-time state exact while storing one row per
change instead of one per report.

Reports may arrive out of order (a laptop offline for a week delivers its outbox later):
`merge_observation` places each observation by its observed time, splitting or extending runs.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from fleetward.policy.verdict import Status

RESOLUTION = timedelta(microseconds=1)  # the store keeps microseconds on SQLite and PostgreSQL


@dataclass(frozen=True)
class Observation:
    at: datetime
    status: Status
    policy_version: str
    evidence: tuple[dict[str, str], ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class Run:
    status: Status
    policy_version: str
    since: datetime
    last_seen: datetime
    evidence: tuple[dict[str, str], ...] = field(default=(), compare=False)
    error: str | None = field(default=None, compare=False)

    def same_verdict(self, obs: Observation) -> bool:
        return self.status == obs.status and self.policy_version == obs.policy_version

    @classmethod
    def start(cls, obs: Observation) -> Run:
        return cls(obs.status, obs.policy_version, obs.at, obs.at, obs.evidence, obs.error)


@dataclass(frozen=True)
class Merge:
    runs: list[Run]
    transition: bool  # a new run started (a change of status or version was recorded)
    changed: bool  # anything at all changed (False: the observation was already covered)


def merge_observation(runs: Sequence[Run], obs: Observation, validity: timedelta) -> Merge:
    """Place one observation into a pair's runs (sorted by `since`, non-overlapping)."""
    ordered = list(runs)
    index = _run_covering(ordered, obs.at)
    if index is None:
        # Before every known run: it starts the history, unless the first run is the same verdict
        # and close enough to absorb it.
        if ordered and ordered[0].same_verdict(obs) and ordered[0].since - obs.at <= validity:
            ordered[0] = replace(ordered[0], since=obs.at)
            return Merge(ordered, transition=True, changed=True)
        return Merge([Run.start(obs), *ordered], transition=True, changed=True)

    current = ordered[index]
    following = ordered[index + 1] if index + 1 < len(ordered) else None
    if obs.at <= current.last_seen:
        return _inside(ordered, index, obs)
    # After the run's last confirmation and before the next run starts.
    if current.same_verdict(obs) and obs.at - current.last_seen <= validity:
        latest = following is None
        ordered[index] = replace(
            current,
            last_seen=obs.at,
            evidence=obs.evidence if latest else current.evidence,
            error=obs.error if latest else current.error,
        )
        return _absorb_next(ordered, index, validity, transition=False)
    ordered.insert(index + 1, Run.start(obs))
    return _absorb_next(ordered, index + 1, validity, transition=True)


def _inside(ordered: list[Run], index: int, obs: Observation) -> Merge:
    current = ordered[index]
    if current.same_verdict(obs) or obs.at == current.since:
        # Agrees with what we know, or a duplicate instant: the first verdict recorded stands.
        return Merge(ordered, transition=False, changed=False)
    # A different verdict inside a run: split it. Before the observation the run's verdict held
    # without a gap longer than validity (a run's invariant), so the head runs up to just before
    # it; recording only `since` there would show a reporting device as stale. After it, the run's
    # last confirmation is the one observation we still know of, so the tail starts there.
    head = replace(current, last_seen=max(current.since, obs.at - RESOLUTION))
    middle = Run.start(obs)
    pieces = [head, middle]
    if current.last_seen > obs.at:
        pieces.append(replace(current, since=current.last_seen))
    ordered[index : index + 1] = pieces
    return Merge(ordered, transition=True, changed=True)


def _absorb_next(ordered: list[Run], index: int, validity: timedelta, *, transition: bool) -> Merge:
    """Join run `index` with the next one when they now hold the same verdict without a long gap."""
    if index + 1 < len(ordered):
        run, nxt = ordered[index], ordered[index + 1]
        joinable = run.status == nxt.status and run.policy_version == nxt.policy_version
        if joinable and nxt.since - run.last_seen <= validity:
            ordered[index : index + 2] = [replace(nxt, since=run.since)]
    return Merge(ordered, transition=transition, changed=True)


def _run_covering(ordered: list[Run], at: datetime) -> int | None:
    """Index of the latest run that started at or before `at`."""
    found = None
    for i, run in enumerate(ordered):
        if run.since <= at:
            found = i
        else:
            break
    return found


def run_at(runs: Sequence[Run], at: datetime) -> Run | None:
    """The run in force at `at`: a binary search, since reports ask this for every pair and day."""
    index = bisect_right(runs, at, key=_since) - 1
    return runs[index] if index >= 0 else None


def _since(run: Run) -> datetime:
    return run.since
