"""Point-in-time status of a (device, policy) pair, as an auditor sees it.

The precedence of the statuses is defined once, in `fleetward.status`.

Failing-since is the start of the unbroken stretch of non-compliant runs (fail or error, any
policy version) that contains T; days out of compliance count from there to T.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from collector.domain.runs import Run, run_at
from fleetward.policy.verdict import Status
from fleetward.status import SEVERITY_ORDER, AuditStatus

__all__ = [
    "DEFAULT_VALIDITY",
    "SEVERITY_ORDER",
    "AuditStatus",
    "PairState",
    "Waiver",
    "active_waiver",
    "failing_starts",
    "pair_state_at",
    "worst",
]

DEFAULT_VALIDITY = timedelta(days=30)  # Intune's default compliance check-in validity


_NON_COMPLIANT = (Status.FAIL, Status.ERROR)


@dataclass(frozen=True)
class Waiver:
    id: str
    policy_id: str
    justification: str
    owner: str
    granted_at: datetime
    expires_at: datetime
    device_id: str | None = None
    practice: str | None = None  # a waiver for a group: every device of the practice
    revoked_at: datetime | None = None
    granted_by: str = ""

    def active_at(self, at: datetime) -> bool:
        if at < self.granted_at or at >= self.expires_at:
            return False
        return self.revoked_at is None or at < self.revoked_at

    def covers(self, device_id: str, practice: str | None, policy_id: str) -> bool:
        if self.policy_id != policy_id:
            return False
        if self.device_id is not None:
            return self.device_id == device_id
        return self.practice is not None and self.practice == practice


@dataclass(frozen=True)
class PairState:
    status: AuditStatus
    observed: Status | None  # what the agent last said; None when nothing was ever observed
    since: datetime | None  # start of the current run
    last_seen: datetime | None
    failing_since: datetime | None
    days_out_of_compliance: float | None
    policy_version: str | None
    evidence: tuple[dict[str, str], ...] = ()
    error: str | None = None
    waiver: Waiver | None = None


def active_waiver(
    waivers: Sequence[Waiver], device_id: str, practice: str | None, policy_id: str, at: datetime
) -> Waiver | None:
    """The active waiver that expires last, so a report shows the one that matters longest."""
    matching = [w for w in waivers if w.covers(device_id, practice, policy_id) and w.active_at(at)]
    return max(matching, key=lambda w: (w.expires_at, w.id), default=None)


def pair_state_at(
    runs: Sequence[Run],
    at: datetime,
    *,
    grace: timedelta,
    validity: timedelta = DEFAULT_VALIDITY,
    waiver: Waiver | None = None,
    applies: bool = True,
) -> PairState:
    """`applies`: the policy applies to the device's platform. When it does not, silence is no
    finding: the pair stays not_applicable instead of going stale (rule 1 in fleetward.status)."""
    run = run_at(runs, at)
    if run is None:
        return PairState(AuditStatus.STALE, None, None, None, None, None, None)
    last_seen = min(run.last_seen, at)
    failing_since = _failing_since(runs, run, at)
    days = (at - failing_since).total_seconds() / 86400 if failing_since else None
    base = PairState(
        status=AuditStatus(run.status.value),
        observed=run.status,
        since=run.since,
        last_seen=last_seen,
        failing_since=failing_since,
        days_out_of_compliance=days,
        policy_version=run.policy_version,
        evidence=run.evidence,
        error=run.error,
    )
    if at > run.last_seen and at - run.last_seen > validity:
        return _with(base, AuditStatus.STALE if applies else AuditStatus.NOT_APPLICABLE)
    if run.status not in _NON_COMPLIANT:
        return base
    if waiver is not None and waiver.active_at(at):
        return _with(base, AuditStatus.WAIVED, waiver)
    if run.status is Status.FAIL and failing_since is not None and at - failing_since < grace:
        return _with(base, AuditStatus.IN_GRACE)
    return base


def _failing_since(runs: Sequence[Run], current: Run, at: datetime) -> datetime | None:
    if current.status not in _NON_COMPLIANT:
        return None
    ordered = [r for r in runs if r.since <= at]
    start = current.since
    for previous, run in zip(reversed(ordered[:-1]), reversed(ordered), strict=False):
        if previous.status in _NON_COMPLIANT and run.since == start:
            start = previous.since
        else:
            break
    return start


def _with(state: PairState, status: AuditStatus, waiver: Waiver | None = None) -> PairState:
    return PairState(
        status=status,
        observed=state.observed,
        since=state.since,
        last_seen=state.last_seen,
        failing_since=state.failing_since,
        days_out_of_compliance=state.days_out_of_compliance,
        policy_version=state.policy_version,
        evidence=state.evidence,
        error=state.error,
        waiver=waiver or state.waiver,
    )


def worst(statuses: Sequence[AuditStatus]) -> AuditStatus | None:
    present = set(statuses)
    return next((s for s in SEVERITY_ORDER if s in present), None)


def failing_starts(runs: Sequence[Run]) -> list[datetime | None]:
    """For each run (sorted by `since`), where its unbroken stretch of fail/error runs began.

    The same answer as `pair_state_at(...).failing_since` at any instant inside the run; the store
    keeps it beside each run so SQL can decide `in_grace` without walking the history.
    """
    starts: list[datetime | None] = []
    previous: datetime | None = None
    for run in runs:
        current = (previous or run.since) if run.status in _NON_COMPLIANT else None
        starts.append(current)
        previous = current
    return starts
