"""Knowledge time: a pair's runs as the collector knew them at an earlier instant K.

Two clocks (docs/data-model.md, "Knowledge time"): an observation's instant is the laptop's
`observed_at`, which places it among the pair's runs; the instant the collector knew it is the
`received_at` of its report, on the collector's clock. "As known at K" means: exactly what the
collector would hold had it received only the reports received by K.

The store changes runs in place, so the past is rebuilt from three things:

- each run's first report and last confirming report, with their `received_at`: a run started
  by a report received after K was unknown at K; a run confirmed after K was shorter at K;
- the receipts of the device's snapshots received by K: a snapshot carries every result, so its
  `observed_at` inside a run is a confirmation of that run;
- the run revisions (append-only): every row of a pair before an out-of-order placement
  ("placed"), and a run before an in-order confirmation that replaced its evidence or error or
  came in a transition report ("confirmed"). Each holds until `known_until`.

Everything here is pure: the store loads these rows (collector/store/history.py).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from collector.domain.runs import Run

PLACED = "placed"
CONFIRMED = "confirmed"


@dataclass(frozen=True)
class StoredRun:
    """A run row with when its first and last reports were received (None: no report recorded,
    a row rewritten by a placement; it was known from that placement on)."""

    run: Run
    started_received: datetime | None
    confirmed_received: datetime | None


@dataclass(frozen=True)
class Revision:
    id: int
    kind: str  # PLACED or CONFIRMED
    stored: StoredRun
    known_until: datetime
    superseded_by: str  # the report whose write replaced this version
    superseded_observed: datetime  # and its observed_at


def runs_known_at(
    current: Sequence[StoredRun],
    revisions: Sequence[Revision],
    snapshots: Sequence[datetime],
    known_at: datetime,
) -> tuple[Run, ...]:
    """One pair's runs as known at `known_at`.

    `current`: the pair's rows now; `revisions`: its revisions in id (write) order; `snapshots`:
    the sorted `observed_at` of the device's snapshot reports received by `known_at`.
    """
    later_placements = [r for r in revisions if r.kind == PLACED and r.known_until > known_at]
    if later_placements:
        # The pair before the first placement after K: what was known then, plus in-order
        # writes between K and that placement, undone below like those on the current rows.
        first = min(later_placements, key=lambda r: r.id)
        base = [r.stored for r in revisions if r.kind == PLACED and r.superseded_by == first.superseded_by]
        epoch_end = first.id
    else:
        base, epoch_end = list(current), None
    epoch_start = max((r.id for r in revisions if r.kind == PLACED and r.known_until <= known_at), default=0)
    epoch = [r for r in revisions if r.id > epoch_start and (epoch_end is None or r.id < epoch_end)]
    instants = _observations_known(revisions, snapshots, known_at)

    runs: list[Run] = []
    for stored in base:
        if stored.started_received is not None and stored.started_received > known_at:
            continue  # started by a report received after K
        if stored.confirmed_received is None or stored.confirmed_received <= known_at:
            runs.append(stored.run)
            continue
        runs.append(_confirmed_as_known(stored.run, epoch, instants, known_at))
    return tuple(sorted(runs, key=lambda run: run.since))


def _observations_known(
    revisions: Sequence[Revision], snapshots: Sequence[datetime], known_at: datetime
) -> list[datetime]:
    """Instants at which this pair was observed, known by K (sorted)."""
    instants = list(snapshots)
    for r in revisions:
        if r.known_until <= known_at:
            instants.extend((r.superseded_observed, r.stored.run.since, r.stored.run.last_seen))
    return sorted(instants)


def _confirmed_as_known(
    run: Run, epoch: Sequence[Revision], instants: Sequence[datetime], known_at: datetime
) -> Run:
    """A run confirmed again after K: its last confirmation known by K, and the evidence then."""
    lo = bisect_left(instants, run.since)
    hi = bisect_right(instants, run.last_seen)
    last_seen = max([run.since, *instants[lo:hi]])
    earlier = next(
        (
            r.stored.run
            for r in epoch
            if r.kind == CONFIRMED and r.known_until > known_at and r.stored.run.since == run.since
        ),
        None,
    )
    if earlier is None:
        return replace(run, last_seen=last_seen)
    return replace(run, last_seen=last_seen, evidence=earlier.evidence, error=earlier.error)
