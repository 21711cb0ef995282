"""Ingestion of one report, in one transaction: idempotent, and placed by observed time.

The common case is a report newer than everything known for its device: each pair's latest run
is extended (`last_seen`) or followed by a new run (a transition). A report older than a pair's
latest confirmation takes the slow path: that pair's runs are loaded, the pure
`merge_observation` places the observation, and the pair's rows are rewritten.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from collector.domain.runs import Observation, Run, merge_observation
from collector.domain.state import failing_starts
from collector.errors import Forbidden
from collector.store.models import AgentEventRow, Device, IngestedReport, StatusRun
from collector.store.policies import PolicyRegistry
from fleetward.policy.verdict import Status
from fleetward.wire import Report

_NON_COMPLIANT = (Status.FAIL.value, Status.ERROR.value)
_RUNS = cast(Table, StatusRun.__table__)  # Core statements: executemany without ORM bookkeeping


@dataclass(frozen=True)
class IngestOutcome:
    duplicate: bool
    transitions: int
    registered: frozenset[tuple[str, str]] = frozenset()


def ingest_report(
    session: Session,
    device_id: str,
    report: Report,
    *,
    received_at: datetime,
    validity: timedelta,
    registry: PolicyRegistry,
) -> IngestOutcome:
    report_id = str(report.report_id)
    # Serialise a device's reports (PostgreSQL row lock; SQLite holds the write lock already).
    last_report_at = session.execute(
        select(Device.last_report_at).where(Device.id == device_id).with_for_update()
    ).scalar_one()
    known = session.execute(
        select(IngestedReport.device_id).where(IngestedReport.report_id == report_id)
    ).scalar_one_or_none()
    if known is not None:
        if known != device_id:
            raise Forbidden(
                "this report id was ingested from another device; a device can only write its own reports",
                detail={"report_id": report_id},
            )
        return IngestOutcome(duplicate=True, transitions=0)

    observed_at = report.observed_at
    versions = {(r.policy_id, r.policy_version) for r in report.results}
    versions.update(report.policy_versions.items())
    registered = registry.ensure(session, versions, received_at)

    transitions = late = 0
    latest = _latest_runs(session, device_id, [r.policy_id for r in report.results])
    batch = _Batch()
    for result in report.results:
        obs = Observation(
            at=observed_at,
            status=result.status,
            policy_version=result.policy_version,
            evidence=tuple(result.evidence),
            error=result.error,
        )
        current = latest.get(result.policy_id)
        if current is None or observed_at > current["last_seen"]:
            transitions += _append(batch, device_id, result.policy_id, current, obs, report_id, validity)
        else:
            late += 1
            transitions += _place_out_of_order(session, device_id, result.policy_id, obs, report_id, validity)
    batch.flush(session)

    session.execute(
        insert(IngestedReport),
        [
            {
                "report_id": report_id,
                "device_id": device_id,
                "kind": report.kind.value,
                "observed_at": observed_at,
                "received_at": received_at,
                "agent_version": report.agent_version,
                "bundle_version": report.bundle_version,
                "result_count": len(report.results),
                "transitions": transitions,
                "late_results": late,
            }
        ],
    )
    if report.events:
        session.execute(
            insert(AgentEventRow),
            [
                {
                    "device_id": device_id,
                    "report_id": report_id,
                    "kind": e.kind.value,
                    "at": e.at,
                    "message": e.message,
                }
                for e in report.events
            ],
        )
    if last_report_at is None or observed_at >= last_report_at:
        session.execute(
            update(Device)
            .where(Device.id == device_id)
            .values(last_report_at=observed_at, agent_version=report.agent_version)
            .execution_options(synchronize_session=False)
        )
    return IngestOutcome(duplicate=False, transitions=transitions, registered=frozenset(registered))


def _latest_runs(session: Session, device_id: str, policy_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    if not policy_ids:
        return {}
    rows = session.execute(
        select(
            StatusRun.id,
            StatusRun.policy_id,
            StatusRun.status,
            StatusRun.policy_version,
            StatusRun.since,
            StatusRun.last_seen,
            StatusRun.failing_since,
            StatusRun.evidence,
            StatusRun.error,
        ).where(
            StatusRun.device_id == device_id,
            StatusRun.next_since.is_(None),
            StatusRun.policy_id.in_(set(policy_ids)),
        )
    ).mappings()
    return {row["policy_id"]: dict(row) for row in rows}


def _as_run(row: dict[str, Any]) -> Run:
    return Run(
        status=Status(row["status"]),
        policy_version=row["policy_version"],
        since=row["since"],
        last_seen=row["last_seen"],
        evidence=tuple(row["evidence"] or ()),
        error=row["error"],
    )


@dataclass
class _Batch:
    """The fast path's writes, sent as three executemany statements instead of one per result."""

    extended: list[dict[str, Any]] = field(default_factory=list)
    closed: list[dict[str, Any]] = field(default_factory=list)
    started: list[dict[str, Any]] = field(default_factory=list)

    def flush(self, session: Session) -> None:
        table = _RUNS
        if self.extended:
            session.execute(
                update(table)
                .where(table.c.id == bindparam("run_id"))
                .values(
                    last_seen=bindparam("new_last_seen"),
                    evidence=bindparam("new_evidence"),
                    error=bindparam("new_error"),
                    last_report_id=bindparam("new_last_report_id"),
                ),
                self.extended,
            )
        if self.closed:
            session.execute(
                update(table)
                .where(table.c.id == bindparam("run_id"))
                .values(next_since=bindparam("new_next_since")),
                self.closed,
            )
        if self.started:
            session.execute(insert(table), self.started)


def _append(
    batch: _Batch,
    device_id: str,
    policy_id: str,
    current: dict[str, Any] | None,
    obs: Observation,
    report_id: str,
    validity: timedelta,
) -> int:
    """The in-order fast path: only the pair's latest run is read or written."""
    if current is None:
        run = Run.start(obs)
        failing = run.since if run.status.value in _NON_COMPLIANT else None
        batch.started.append(_row(device_id, policy_id, run, failing, report_id, report_id, None))
        return 1
    merge = merge_observation([_as_run(current)], obs, validity)
    if len(merge.runs) == 1:
        extended = merge.runs[0]
        batch.extended.append(
            {
                "run_id": current["id"],
                "new_last_seen": extended.last_seen,
                "new_evidence": list(extended.evidence),
                "new_error": extended.error,
                "new_last_report_id": report_id,
            }
        )
        return 0
    new = merge.runs[1]
    previous_failing = current["failing_since"]
    failing = (previous_failing or new.since) if new.status.value in _NON_COMPLIANT else None
    batch.closed.append({"run_id": current["id"], "new_next_since": new.since})
    batch.started.append(_row(device_id, policy_id, new, failing, report_id, report_id, None))
    return 1


def _place_out_of_order(
    session: Session, device_id: str, policy_id: str, obs: Observation, report_id: str, validity: timedelta
) -> int:
    rows = session.execute(
        select(StatusRun)
        .where(StatusRun.device_id == device_id, StatusRun.policy_id == policy_id)
        .order_by(StatusRun.since)
    ).scalars()
    existing = list(rows)
    runs = [
        Run(
            status=Status(r.status),
            policy_version=r.policy_version,
            since=r.since,
            last_seen=r.last_seen,
            evidence=tuple(r.evidence or ()),
            error=r.error,
        )
        for r in existing
    ]
    merge = merge_observation(runs, obs, validity)
    if not merge.changed:
        return 0
    # Which report each instant came from, so rewritten runs keep their provenance.
    reports: dict[datetime, str | None] = {}
    for r in existing:
        reports.setdefault(r.since, r.report_id)
        reports.setdefault(r.last_seen, r.last_report_id)
    reports.setdefault(obs.at, report_id)
    for r in existing:
        session.expunge(r)
    session.execute(
        delete(StatusRun).where(StatusRun.device_id == device_id, StatusRun.policy_id == policy_id)
    )
    starts = failing_starts(merge.runs)
    nexts: list[datetime | None] = [run.since for run in merge.runs[1:]] + [None]
    session.execute(
        insert(_RUNS),
        [
            _row(device_id, policy_id, run, start, reports.get(run.since), reports.get(run.last_seen), nxt)
            for run, start, nxt in zip(merge.runs, starts, nexts, strict=True)
        ],
    )
    return 1 if merge.transition else 0


def _row(
    device_id: str,
    policy_id: str,
    run: Run,
    failing: datetime | None,
    started_by: str | None,
    confirmed_by: str | None,
    next_since: datetime | None,
) -> dict[str, Any]:
    return {
        "device_id": device_id,
        "policy_id": policy_id,
        "status": run.status.value,
        "policy_version": run.policy_version,
        "since": run.since,
        "last_seen": run.last_seen,
        "next_since": next_since,
        "failing_since": failing,
        "evidence": list(run.evidence),
        "error": run.error,
        "report_id": started_by,
        "last_report_id": confirmed_by,
    }
