"""A device's history as drawable segments: one row per policy, one bar per status run.

Pure: the router turns these into an inline SVG (no script, no chart library needed for bars).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from collector.domain.runs import Run

WIDTH = 800.0


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    status: str
    since: datetime
    until: datetime
    policy_version: str


@dataclass(frozen=True)
class Row:
    policy_id: str
    bars: list[Bar]


@dataclass(frozen=True)
class Timeline:
    start: datetime
    end: datetime
    rows: list[Row]


def device_timeline(runs_by_policy: Mapping[str, Sequence[Run]], start: datetime, end: datetime) -> Timeline:
    """One device's runs (by policy) clipped to [start, end]; a run is drawn from its start to
    its last confirmation."""
    span = (end - start).total_seconds() or 1.0

    def x_of(instant: datetime) -> float:
        return round(max(0.0, min(1.0, (instant - start).total_seconds() / span)) * WIDTH, 1)

    rows: list[Row] = []
    for policy_id, runs in sorted(runs_by_policy.items()):
        bars = []
        for run in runs:
            if run.last_seen < start or run.since > end:
                continue
            left, right = x_of(run.since), x_of(run.last_seen)
            bars.append(
                Bar(
                    left,
                    max(right - left, 2.0),
                    run.status.value,
                    run.since,
                    run.last_seen,
                    run.policy_version,
                )
            )
        rows.append(Row(policy_id, bars))
    return Timeline(start, end, rows)
