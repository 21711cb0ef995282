"""Each patch baseline's provenance and freshness at the report's instant.

A verdict that compares a laptop's build with a floor is only as good as the floors: the report says
where they came from (refreshed, newest floor, sources) and whether they still cover the instant.
`stale` means the policies reading the baseline are `error` on agents from then on (docs/policies.md,
"Baseline freshness"); `due` warns that the next floor is published or nearly due and not yet added.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from collector.domain.fleet import FleetHistory, PolicyRecord
from collector.reports.model import BaselineView
from fleetward.policy.baseline import REMEDIATION_WINDOW, Baseline
from fleetward.policy.freshness import provenance


def baseline_views(
    history: FleetHistory, policies: Sequence[PolicyRecord], at: datetime
) -> list[BaselineView]:
    used = {p.baseline for p in policies if p.baseline}
    views = []
    for baseline in sorted(history.baselines, key=lambda b: b.name):
        if baseline.name not in used:
            continue
        views.append(
            BaselineView(
                **provenance_fields(baseline, at),
                policies=sorted(p.id for p in policies if p.baseline == baseline.name),
            )
        )
    return views


def provenance_fields(baseline: Baseline, at: datetime) -> dict[str, Any]:
    """A baseline's provenance and freshness at `at`, as the fields the report's `BaselineView`
    and the API's `BaselineInfo` share (one mapping for both)."""
    row = provenance(baseline, at, REMEDIATION_WINDOW)
    return {
        "name": row.baseline,
        "title": row.title,
        "refreshed": row.refreshed,
        "newest_floor": row.newest_floor,
        "sources": dict(row.sources),
        "state": row.freshness.state.value,
        "due": row.freshness.due,
        "lacking": list(row.freshness.lacking),
        "message": row.freshness.message,
    }
