"""Load what the pure knowledge-time rebuild needs (collector/domain/knowledge.py).

Three bulk selects: every run with when its first and last reports were received, every run
revision with its superseding report, and, only for the devices whose runs changed after K,
the `observed_at` of their snapshots received by K.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, aliased

from collector.domain.fleet import PairKey
from collector.domain.knowledge import Revision, StoredRun, runs_known_at
from collector.domain.runs import Run
from collector.store.models import IngestedReport, RunRevision, StatusRun
from fleetward.wire import ReportKind

_STREAM = 10_000
_CHUNK = 500  # device ids per IN list


def runs_as_known_at(
    session: Session,
    known_at: datetime,
    wanted: set[str] | None,
    as_run: Callable[[Any, Any], Run],
) -> dict[PairKey, tuple[Run, ...]]:
    """Every pair's runs as known at `known_at`. `as_run(row, evidence)` builds a Run from a row
    whose first columns are status, policy_version, since, last_seen, error (cleaning text)."""
    current = _stored(session, StatusRun, wanted, as_run)
    revisions = _revisions(session, wanted, as_run)
    changed = {
        key
        for key, rows in current.items()
        if any(_after(r.started_received, known_at) or _after(r.confirmed_received, known_at) for r in rows)
    }
    changed.update(key for key, revs in revisions.items() if any(r.known_until > known_at for r in revs))
    snapshots = _snapshots(session, {device for device, _ in changed}, known_at)
    runs: dict[PairKey, tuple[Run, ...]] = {}
    for key, rows in current.items():
        if key not in changed:
            runs[key] = tuple(r.run for r in rows)
            continue
        known = runs_known_at(rows, revisions.get(key, ()), snapshots.get(key[0], ()), known_at)
        if known:
            runs[key] = known
    return runs


def _after(received: datetime | None, known_at: datetime) -> bool:
    return received is not None and received > known_at


def _with_receipts(query: Select[Any], table: Any) -> Select[Any]:
    started, confirmed = aliased(IngestedReport), aliased(IngestedReport)
    return (
        query.add_columns(started.received_at, confirmed.received_at)
        .outerjoin(started, started.report_id == table.report_id)
        .outerjoin(confirmed, confirmed.report_id == table.last_report_id)
    )


def _columns(table: Any) -> tuple[Any, ...]:
    return (
        table.status,
        table.policy_version,
        table.since,
        table.last_seen,
        table.error,
        table.evidence,
        table.device_id,
        table.policy_id,
    )


def _stored(
    session: Session, table: Any, wanted: set[str] | None, as_run: Callable[[Any, Any], Run]
) -> dict[PairKey, list[StoredRun]]:
    query = _with_receipts(select(*_columns(table)), table).order_by(
        table.device_id, table.policy_id, table.since
    )
    if wanted is not None:
        query = query.where(table.policy_id.in_(wanted))
    out: dict[PairKey, list[StoredRun]] = {}
    for row in session.execute(query.execution_options(yield_per=_STREAM)):
        out.setdefault((row[6], row[7]), []).append(StoredRun(as_run(row, row[5]), row[8], row[9]))
    return out


def _revisions(
    session: Session, wanted: set[str] | None, as_run: Callable[[Any, Any], Run]
) -> dict[PairKey, list[Revision]]:
    superseding = aliased(IngestedReport)
    query = (
        _with_receipts(select(*_columns(RunRevision)), RunRevision)
        .add_columns(
            RunRevision.id,
            RunRevision.kind,
            RunRevision.known_until,
            RunRevision.superseded_by,
            superseding.observed_at,
        )
        .join(superseding, superseding.report_id == RunRevision.superseded_by)
        .order_by(RunRevision.id)
    )
    if wanted is not None:
        query = query.where(RunRevision.policy_id.in_(wanted))
    out: dict[PairKey, list[Revision]] = {}
    for row in session.execute(query):
        stored = StoredRun(as_run(row, row[5]), row[8], row[9])
        out.setdefault((row[6], row[7]), []).append(
            Revision(
                id=row[10],
                kind=row[11],
                stored=stored,
                known_until=row[12],
                superseded_by=row[13],
                superseded_observed=row[14],
            )
        )
    return out


def _snapshots(session: Session, devices: Iterable[str], known_at: datetime) -> dict[str, list[datetime]]:
    """The sorted `observed_at` of each device's snapshot reports received by `known_at`."""
    ids = sorted(devices)
    out: dict[str, list[datetime]] = {}
    for start in range(0, len(ids), _CHUNK):
        rows = session.execute(
            select(IngestedReport.device_id, IngestedReport.observed_at)
            .where(
                IngestedReport.device_id.in_(ids[start : start + _CHUNK]),
                IngestedReport.kind == ReportKind.SNAPSHOT.value,
                IngestedReport.received_at <= known_at,
            )
            .order_by(IngestedReport.device_id, IngestedReport.observed_at)
        )
        for device_id, observed_at in rows:
            out.setdefault(device_id, []).append(observed_at)
    return out
