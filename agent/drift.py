"""Drift: which policies changed since the last evaluation, and the state that remembers it.

`detect_drift` is pure. A change is a different status (pass -> fail, fail -> pass, anything -> error,
...) or a different policy version: a result for a new version of a policy is never mixed with the old
one, so it is reported as a change too. `PolicyStateStore` keeps the last known (status, version) per
policy in the agent's database; the service saves it in the same transaction as the report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from agent.store import Database
from fleetward.policy.verdict import Result, Status

KnownState = Mapping[str, tuple[Status, str]]


def detect_drift(previous: KnownState, current: Sequence[Result]) -> list[Result]:
    """The results whose (status, version) differ from the last known ones, in the given order."""
    return [r for r in current if previous.get(r.policy_id) != (r.status, r.policy_version)]


def state_of(results: Sequence[Result]) -> dict[str, tuple[Status, str]]:
    return {r.policy_id: (r.status, r.policy_version) for r in results}


class PolicyStateStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def load(self) -> dict[str, tuple[Status, str]]:
        rows = self._db.read("SELECT policy_id, status, version FROM policy_state")
        return {str(pid): (Status(str(status)), str(version)) for pid, status, version in rows}

    def save(self, results: Sequence[Result], observed_at: datetime) -> None:
        """Replace the known state with these results (joins the caller's transaction if any)."""
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM policy_state")
            conn.executemany(
                "INSERT INTO policy_state(policy_id, status, version, observed_at) VALUES (?, ?, ?, ?)",
                [(r.policy_id, r.status.value, r.policy_version, observed_at.isoformat()) for r in results],
            )
