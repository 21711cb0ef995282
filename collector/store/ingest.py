"""Ingestion of reports, many in one transaction: idempotent, in order per device, placed by observed time.

`ingest_reports` writes a batch of authenticated reports with a handful of set-based statements
for the whole batch instead of about eight per report: lock the batch's devices (in id order, so
two batches never deadlock), look up its report ids, read the latest run of every pair it
touches, then write every extension, transition and receipt in one statement each.

The common case is a report newer than everything known for its device: each pair's latest run
is extended (`last_seen`) or followed by a new run (a transition). A report older than a pair's
latest confirmation takes the slow path: that pair's runs are loaded, the pure
`merge_observation` places the observation, and the pair's rows are rewritten.

Knowledge time (docs/data-model.md): a placement keeps the pair's rows as they were in
`run_revisions` first; the fast path adds a revision only for a confirmation that replaces a run's
evidence or error or comes in a transition report, so the common batch writes nothing more.

A device's reports are applied in the order they arrived. Several reports of one device in a
batch go in rounds (the first of each device, then the second, ...), each round reading what the
previous one wrote.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, insert, select, text, update
from sqlalchemy.orm import Session

from collector.domain.runs import Observation, Run, merge_observation
from collector.domain.state import failing_starts
from collector.errors import Forbidden
from collector.store.models import AgentEventRow, Device, IngestedReport, RunRevision, StatusRun
from collector.store.policies import PolicyRegistry
from fleetward.policy.verdict import Status
from fleetward.wire import Report, ReportKind

_NON_COMPLIANT = (Status.FAIL.value, Status.ERROR.value)
_RUNS = cast(Table, StatusRun.__table__)  # Core statements: executemany without ORM bookkeeping
_DEVICES = cast(Table, Device.__table__)
_RECEIPTS = cast(Table, IngestedReport.__table__)
_EVENTS = cast(Table, AgentEventRow.__table__)
_REVISIONS = cast(Table, RunRevision.__table__)


@dataclass(frozen=True)
class Incoming:
    """One report to ingest, from a device already authenticated as `device_id`."""

    device_id: str
    report: Report


@dataclass(frozen=True)
class IngestOutcome:
    duplicate: bool
    transitions: int
    registered: frozenset[tuple[str, str]] = frozenset()
    unknown_policies: tuple[str, ...] = ()  # results refused: no catalogue or bundle defines them


Ingested = IngestOutcome | Forbidden  # a report id already ingested from another device is refused


def ingest_report(
    session: Session,
    device_id: str,
    report: Report,
    *,
    received_at: datetime,
    validity: timedelta,
    registry: PolicyRegistry,
) -> IngestOutcome:
    """One report in the caller's transaction (a batch of one)."""
    (outcome,) = ingest_reports(
        session, [Incoming(device_id, report)], received_at=received_at, validity=validity, registry=registry
    )
    if isinstance(outcome, Forbidden):
        raise outcome
    return outcome


def ingest_reports(
    session: Session,
    incoming: Sequence[Incoming],
    *,
    received_at: datetime,
    validity: timedelta,
    registry: PolicyRegistry,
) -> list[Ingested]:
    """Ingest a batch in the caller's transaction; one outcome per report, in the order given."""
    if not incoming:
        return []
    last_report_at = _lock_devices(session, {item.device_id for item in incoming})
    owners = _report_owners(session, {str(item.report.report_id) for item in incoming})

    outcomes: list[Ingested | None] = [None] * len(incoming)
    fresh: list[tuple[int, Incoming]] = []
    for index, item in enumerate(incoming):
        report_id = str(item.report.report_id)
        owner = owners.get(report_id)
        if owner is None:
            owners[report_id] = item.device_id  # a second copy later in this batch is a duplicate
            fresh.append((index, item))
        elif owner == item.device_id:
            outcomes[index] = IngestOutcome(duplicate=True, transitions=0)
        else:
            outcomes[index] = Forbidden(
                "this report id was ingested from another device; a device can only write its own reports",
                detail={"report_id": report_id},
            )

    # Devices cannot grow the registry: results for policies no catalogue or bundle defines are
    # refused (each report keeps the rest), and their versions are never registered.
    named: set[str] = set()
    for _, item in fresh:
        named.update(r.policy_id for r in item.report.results)
        named.update(item.report.policy_versions)
    defined = registry.known_ids(session, named)
    unknown: dict[int, tuple[str, ...]] = {}
    for position, (index, item) in enumerate(fresh):
        refused = tuple(sorted({r.policy_id for r in item.report.results} - defined))
        if refused:
            unknown[index] = refused
            kept = [r for r in item.report.results if r.policy_id in defined]
            fresh[position] = (
                index,
                Incoming(item.device_id, item.report.model_copy(update={"results": kept})),
            )
    versions: set[tuple[str, str]] = set()
    for _, item in fresh:
        versions.update((r.policy_id, r.policy_version) for r in item.report.results)
        versions.update((pid, v) for pid, v in item.report.policy_versions.items() if pid in defined)
    registered = frozenset(registry.ensure(session, versions, received_at))

    rows = _Rows()
    for round_ in _rounds(fresh):
        latest = _latest_runs(session, {item.device_id for _, item in round_})
        for index, item in round_:
            transitions, late = _plan(session, rows, item, latest, validity, received_at)
            refused = unknown.get(index, ())
            rows.receipt(item, transitions, late, received_at, refused)
            outcomes[index] = IngestOutcome(
                duplicate=False, transitions=transitions, registered=registered, unknown_policies=refused
            )
        rows.write_runs(session)
    for _, item in fresh:
        seen = last_report_at.get(item.device_id)
        if seen is None or item.report.observed_at >= seen:
            last_report_at[item.device_id] = item.report.observed_at
            rows.device(item)
    rows.write_reports(session)
    return [cast(Ingested, outcome) for outcome in outcomes]


def _lock_devices(session: Session, device_ids: Iterable[str]) -> dict[str, datetime | None]:
    """Lock the batch's devices, in id order, and read when each last reported.

    The row locks serialise a device's reports across processes (PostgreSQL); SQLite holds the
    write lock already. One order for every batch means two batches can never deadlock.
    """
    rows = session.execute(
        select(_DEVICES.c.id, _DEVICES.c.last_report_at)
        .where(_DEVICES.c.id.in_(sorted(device_ids)))
        .order_by(_DEVICES.c.id)
        .with_for_update()
    )
    return {str(device_id): at for device_id, at in rows}


def _report_owners(session: Session, report_ids: Iterable[str]) -> dict[str, str]:
    """Which of these report ids are already stored, and from which device."""
    rows = session.execute(
        select(_RECEIPTS.c.report_id, _RECEIPTS.c.device_id).where(
            _RECEIPTS.c.report_id.in_(sorted(report_ids))
        )
    )
    return {str(report_id): str(device_id) for report_id, device_id in rows}


def _rounds(fresh: Sequence[tuple[int, Incoming]]) -> list[list[tuple[int, Incoming]]]:
    """The first report of each device, then the second, ...: each round sees the one before."""
    rounds: list[list[tuple[int, Incoming]]] = []
    depth: dict[str, int] = {}
    for index, item in fresh:
        n = depth.get(item.device_id, 0)
        depth[item.device_id] = n + 1
        if n == len(rounds):
            rounds.append([])
        rounds[n].append((index, item))
    return rounds


_LATEST_COLUMNS = (
    _RUNS.c.id,
    _RUNS.c.device_id,
    _RUNS.c.policy_id,
    _RUNS.c.status,
    _RUNS.c.policy_version,
    _RUNS.c.since,
    _RUNS.c.last_seen,
    _RUNS.c.failing_since,
    _RUNS.c.evidence,
    _RUNS.c.error,
)


def _latest_runs(session: Session, device_ids: Iterable[str]) -> dict[tuple[str, str], dict[str, Any]]:
    """The latest run of every pair of these devices, by (device id, policy id)."""
    rows = session.execute(
        select(*_LATEST_COLUMNS).where(
            _RUNS.c.device_id.in_(sorted(device_ids)), _RUNS.c.next_since.is_(None)
        )
    ).mappings()
    return {(row["device_id"], row["policy_id"]): dict(row) for row in rows}


@dataclass
class _Rows:
    """What a batch writes: run changes per round, receipts, events and device rows at the end."""

    extended: list[dict[str, Any]] = field(default_factory=list)
    closed: list[dict[str, Any]] = field(default_factory=list)
    started: list[dict[str, Any]] = field(default_factory=list)
    revisions: list[dict[str, Any]] = field(default_factory=list)  # rare: see `_confirmation_hides_knowledge`
    receipts: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)

    def receipt(
        self,
        item: Incoming,
        transitions: int,
        late: int,
        received_at: datetime,
        refused: tuple[str, ...] = (),
    ) -> None:
        report = item.report
        report_id = str(report.report_id)
        self.receipts.append(
            {
                "report_id": report_id,
                "device_id": item.device_id,
                "kind": report.kind.value,
                "observed_at": report.observed_at,
                "received_at": received_at,
                "agent_version": report.agent_version,
                "bundle_version": report.bundle_version,
                "result_count": len(report.results),
                "transitions": transitions,
                "late_results": late,
            }
        )
        self.events.extend(
            {
                "device_id": item.device_id,
                "report_id": report_id,
                "kind": e.kind.value,
                "at": e.at,
                "message": e.message,
                "detail": None,
            }
            for e in report.events
        )
        if refused:
            self.events.append(_unknown_policies_event(item.device_id, report_id, refused, received_at))

    def device(self, item: Incoming) -> None:
        """The device's newest report so far: it sets `last_report_at` and the agent version."""
        self.devices[item.device_id] = {
            "device": item.device_id,
            "new_last_report_at": item.report.observed_at,
            "new_agent_version": item.report.agent_version,
        }

    def write_runs(self, session: Session) -> None:
        if session.get_bind().dialect.name == "postgresql":
            _update_runs_set_based(session, self.extended, self.closed)
            self.extended, self.closed = [], []
        if self.extended:
            session.execute(
                update(_RUNS)
                .where(_RUNS.c.id == bindparam("run_id"))
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
                update(_RUNS)
                .where(_RUNS.c.id == bindparam("run_id"))
                .values(next_since=bindparam("new_next_since")),
                self.closed,
            )
        if self.started:
            session.execute(insert(_RUNS), self.started)
        if self.revisions:
            session.execute(insert(_REVISIONS), self.revisions)
        self.extended, self.closed, self.started, self.revisions = [], [], [], []

    def write_reports(self, session: Session) -> None:
        if self.receipts:
            session.execute(insert(_RECEIPTS), self.receipts)
        if self.events:
            session.execute(insert(_EVENTS), self.events)
        if self.devices and session.get_bind().dialect.name == "postgresql":
            rows = list(self.devices.values())
            session.execute(
                _SET_DEVICES,
                {
                    "ids": [r["device"] for r in rows],
                    "at": [r["new_last_report_at"] for r in rows],
                    "versions": [r["new_agent_version"] for r in rows],
                },
            )
        elif self.devices:
            session.execute(
                update(_DEVICES)
                .where(_DEVICES.c.id == bindparam("device"))
                .values(
                    last_report_at=bindparam("new_last_report_at"),
                    agent_version=bindparam("new_agent_version"),
                ),
                list(self.devices.values()),
            )


# PostgreSQL: one UPDATE per batch joined to unnest()ed arrays instead of one statement per row
# (executemany); the server's per-statement work was most of the batch's time. SQLite, in
# process, has no round trips to save and keeps the executemany above.
_EXTEND_RUNS = text(
    "UPDATE status_runs AS r SET last_seen = v.last_seen, evidence = v.evidence::jsonb,"
    " error = v.error, last_report_id = v.last_report_id"
    " FROM unnest(CAST(:ids AS bigint[]), CAST(:seen AS timestamptz[]), CAST(:evidence AS text[]),"
    " CAST(:errors AS text[]), CAST(:reports AS text[])) AS v(id, last_seen, evidence, error, last_report_id)"
    " WHERE r.id = v.id"
)
_CLOSE_RUNS = text(
    "UPDATE status_runs AS r SET next_since = v.next_since"
    " FROM unnest(CAST(:ids AS bigint[]), CAST(:nexts AS timestamptz[])) AS v(id, next_since)"
    " WHERE r.id = v.id"
)
_SET_DEVICES = text(
    "UPDATE devices AS d SET last_report_at = v.at, agent_version = v.version"
    " FROM unnest(CAST(:ids AS text[]), CAST(:at AS timestamptz[]), CAST(:versions AS text[]))"
    " AS v(id, at, version) WHERE d.id = v.id"
)


def _update_runs_set_based(
    session: Session, extended: list[dict[str, Any]], closed: list[dict[str, Any]]
) -> None:
    if extended:
        session.execute(
            _EXTEND_RUNS,
            {
                "ids": [r["run_id"] for r in extended],
                "seen": [r["new_last_seen"] for r in extended],
                "evidence": [json.dumps(r["new_evidence"]) for r in extended],
                "errors": [r["new_error"] for r in extended],
                "reports": [r["new_last_report_id"] for r in extended],
            },
        )
    if closed:
        session.execute(
            _CLOSE_RUNS,
            {"ids": [r["run_id"] for r in closed], "nexts": [r["new_next_since"] for r in closed]},
        )


def _plan(
    session: Session,
    rows: _Rows,
    item: Incoming,
    latest: dict[tuple[str, str], dict[str, Any]],
    validity: timedelta,
    received_at: datetime,
) -> tuple[int, int]:
    """Turn one report's results into run changes; returns how many transitions it records and
    how many results were late (observed before what was already known of their pair).

    In-order results become rows of `rows` (written once per round); a result older than its
    pair's latest confirmation is placed at once by the slow path.
    """
    report = item.report
    report_id = str(report.report_id)
    observed_at = report.observed_at
    transitions = late = 0
    for result in report.results:
        obs = Observation(
            at=observed_at,
            status=result.status,
            policy_version=result.policy_version,
            evidence=tuple(result.evidence),
            error=result.error,
        )
        current = latest.get((item.device_id, result.policy_id))
        if current is None or observed_at > current["last_seen"]:
            transitions += _append(rows, item, result.policy_id, current, obs, validity, received_at)
        else:
            late += 1
            transitions += _place_out_of_order(
                session, item.device_id, result.policy_id, obs, report_id, validity, received_at
            )
    return transitions, late


def _as_run(row: Any) -> Run:
    return Run(
        status=Status(row["status"]),
        policy_version=row["policy_version"],
        since=row["since"],
        last_seen=row["last_seen"],
        evidence=tuple(row["evidence"] or ()),
        error=row["error"],
    )


def _append(
    rows: _Rows,
    item: Incoming,
    policy_id: str,
    current: dict[str, Any] | None,
    obs: Observation,
    validity: timedelta,
    received_at: datetime,
) -> int:
    """The in-order fast path: only the pair's latest run is read or written."""
    device_id, report_id = item.device_id, str(item.report.report_id)
    if current is None:
        run = Run.start(obs)
        failing = run.since if run.status.value in _NON_COMPLIANT else None
        rows.started.append(_row(device_id, policy_id, run, failing, report_id, report_id, None))
        return 1
    merge = merge_observation([_as_run(current)], obs, validity)
    if len(merge.runs) == 1:
        extended = merge.runs[0]
        if _confirmation_hides_knowledge(item, current, extended):
            rows.revisions.append(_revision(current, "confirmed", received_at, report_id))
        rows.extended.append(
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
    rows.closed.append({"run_id": current["id"], "new_next_since": new.since})
    rows.started.append(_row(device_id, policy_id, new, failing, report_id, report_id, None))
    return 1


def _confirmation_hides_knowledge(item: Incoming, current: dict[str, Any], extended: Run) -> bool:
    """Would extending this run in place lose what was known before? Its `last_seen` as known
    earlier is rebuilt from the device's snapshot receipts (a snapshot carries every result), so
    only a confirmation in a transition report, or one that replaces the evidence or error, keeps
    the run's prior version (no statement at all in the common case)."""
    return (
        item.report.kind is not ReportKind.SNAPSHOT
        or list(extended.evidence) != list(current["evidence"] or ())
        or extended.error != current["error"]
    )


def _revision(row: Any, kind: str, known_until: datetime, superseded_by: str) -> dict[str, Any]:
    return {
        "device_id": row["device_id"],
        "policy_id": row["policy_id"],
        "kind": kind,
        "status": row["status"],
        "policy_version": row["policy_version"],
        "since": row["since"],
        "last_seen": row["last_seen"],
        "evidence": list(row["evidence"] or ()),
        "error": row["error"],
        "report_id": row.get("report_id"),
        "last_report_id": row.get("last_report_id"),
        "known_until": known_until,
        "superseded_by": superseded_by,
    }


def _place_out_of_order(
    session: Session,
    device_id: str,
    policy_id: str,
    obs: Observation,
    report_id: str,
    validity: timedelta,
    received_at: datetime,
) -> int:
    pair = (_RUNS.c.device_id == device_id, _RUNS.c.policy_id == policy_id)
    existing = list(
        session.execute(
            select(*_LATEST_COLUMNS, _RUNS.c.report_id, _RUNS.c.last_report_id)
            .where(*pair)
            .order_by(_RUNS.c.since)
        ).mappings()
    )
    merge = merge_observation([_as_run(r) for r in existing], obs, validity)
    if not merge.changed:
        return 0
    # Which report each instant came from, so rewritten runs keep their provenance.
    reports: dict[datetime, str | None] = {}
    for r in existing:
        reports.setdefault(r["since"], r["report_id"])
        reports.setdefault(r["last_seen"], r["last_report_id"])
    reports.setdefault(obs.at, report_id)
    # The past known until now is kept (append-only), so a report issued before stays reproducible.
    session.execute(insert(_REVISIONS), [_revision(r, "placed", received_at, report_id) for r in existing])
    session.execute(delete(_RUNS).where(*pair))
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


UNKNOWN_POLICIES_EVENT = "results_refused"


def _unknown_policies_event(
    device_id: str, report_id: str, unknown: tuple[str, ...], at: datetime
) -> dict[str, Any]:
    # Recorded by the collector, beside the agent's own events: what this device sent and lost.
    return {
        "device_id": device_id,
        "report_id": report_id,
        "kind": UNKNOWN_POLICIES_EVENT,
        "at": at,
        "message": f"{len(unknown)} result(s) refused: no catalogue policy or published bundle defines "
        + ", ".join(unknown[:10]),
        "detail": {"code": "unknown_policy", "policy_ids": list(unknown)},
    }
