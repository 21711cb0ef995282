"""Load the whole fleet's history as plain data (`FleetHistory`) for reports and pure code.

Bulk selects only (one per table, streamed), so it stays linear in the number of runs; reports
over 100,000 devices build from this. Device text stored before the wire refused NUL and lone
surrogates is cleaned here (`clean_text`), so one old row cannot make every report fail.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from collector.domain.fleet import DeviceRecord, FleetHistory, LateReport, PairKey, PolicyRecord
from collector.domain.runs import Run
from collector.domain.state import DEFAULT_VALIDITY
from collector.store.bundles import bundle_records, newest_bundle
from collector.store.knowledge import runs_as_known_at
from collector.store.models import Device, IngestedReport, Policy, PolicyVersion, StatusRun, Waiver
from collector.store.policies import CatalogueData, load_shipped_catalogue
from collector.store.waivers import as_record
from fleetward.bounds import clean_text
from fleetward.policy.baseline import Baseline
from fleetward.policy.model import Platform
from fleetward.policy.verdict import Status

_STREAM = 10_000


def load_history(
    session_or_engine: Session | Engine,
    *,
    policies: Iterable[str] | None = None,
    validity: timedelta = DEFAULT_VALIDITY,
    with_evidence: bool = True,
    catalogue: CatalogueData | None = None,
    known_at: datetime | None = None,
) -> FleetHistory:
    """Devices, policies (all, or the ids given), every pair's runs and every waiver.

    `known_at`: the history as the collector knew it then, from only what it had received by
    that instant (its own clock; docs/data-model.md "Knowledge time"); None: all it holds now.
    """
    if isinstance(session_or_engine, Session):
        return _load(session_or_engine, policies, validity, with_evidence, catalogue, known_at)
    with Session(session_or_engine) as session:
        return _load(session, policies, validity, with_evidence, catalogue, known_at)


def _load(
    session: Session,
    policy_ids: Iterable[str] | None,
    validity: timedelta,
    with_evidence: bool,
    catalogue: CatalogueData | None,
    known_at: datetime | None = None,
) -> FleetHistory:
    wanted = None if policy_ids is None else set(policy_ids)
    policy_query = select(Policy).order_by(Policy.id)
    if wanted is not None:
        policy_query = policy_query.where(Policy.id.in_(wanted))
    if known_at is not None:  # a policy the registry first heard of later was unknown then
        first_seen = select(PolicyVersion.policy_id).group_by(PolicyVersion.policy_id)
        first_seen = first_seen.having(func.min(PolicyVersion.first_seen_at) <= known_at)
        policy_query = policy_query.where(Policy.id.in_(first_seen))
    policy_records = tuple(_policy_record(p) for p in session.scalars(policy_query))

    devices = tuple(
        device_record(d)
        for d in session.scalars(select(Device).order_by(Device.hostname, Device.id))
        if known_at is None or d.enrolled_at <= known_at
    )

    columns = [
        StatusRun.device_id,
        StatusRun.policy_id,
        StatusRun.status,
        StatusRun.policy_version,
        StatusRun.since,
        StatusRun.last_seen,
        StatusRun.error,
    ]
    if with_evidence:
        columns.append(StatusRun.evidence)
    run_query = select(*columns).order_by(StatusRun.device_id, StatusRun.policy_id, StatusRun.since)
    if wanted is not None:
        run_query = run_query.where(StatusRun.policy_id.in_(wanted))
    runs: dict[PairKey, list[Run]] = {}
    statuses = {s.value: s for s in Status}
    if known_at is not None:

        def as_run(row: Any, evidence: Any) -> Run:
            error = None if row[4] is None else clean_text(row[4])
            kept = _clean_evidence(evidence) if with_evidence else ()
            return Run(statuses[row[0]], row[1], row[2], row[3], kept, error)

        known = runs_as_known_at(session, known_at, wanted, as_run)
        runs = {key: list(value) for key, value in known.items()}
    rows: Iterable[Any] = (
        session.execute(run_query.execution_options(yield_per=_STREAM)) if known_at is None else ()
    )
    for row in rows:
        evidence = _clean_evidence(row[7]) if with_evidence else ()
        error = None if row[6] is None else clean_text(row[6])
        runs.setdefault((row[0], row[1]), []).append(
            Run(statuses[row[2]], row[3], row[4], row[5], evidence, error)
        )

    late_query = select(IngestedReport).where(IngestedReport.late_results > 0)
    if known_at is not None:
        late_query = late_query.where(IngestedReport.received_at <= known_at)
    return replace(
        _frame(session, policy_records, wanted, validity, catalogue, known_at),
        devices=devices,
        runs={key: tuple(value) for key, value in runs.items()},
        late_reports=tuple(
            LateReport(
                device_id=r.device_id,
                observed_at=r.observed_at,
                received_at=r.received_at,
                late_results=r.late_results,
            )
            for r in session.scalars(
                late_query.order_by(IngestedReport.received_at, IngestedReport.report_id)
            )
        ),
    )


def load_frame(session: Session, *, validity: timedelta = DEFAULT_VALIDITY) -> FleetHistory:
    """The history without devices, runs or late reports: policies, waivers, controls, bundles
    and baselines, what the dashboard needs beside the SQL aggregates (small whatever the fleet)."""
    policies = tuple(_policy_record(p) for p in session.scalars(select(Policy).order_by(Policy.id)))
    return _frame(session, policies, None, validity, None, None)


def _frame(
    session: Session,
    policy_records: tuple[PolicyRecord, ...],
    wanted: set[str] | None,
    validity: timedelta,
    catalogue: CatalogueData | None,
    known_at: datetime | None,
) -> FleetHistory:
    waiver_query = select(Waiver).order_by(Waiver.granted_at, Waiver.id)
    if wanted is not None:
        waiver_query = waiver_query.where(Waiver.policy_id.in_(wanted))
    waivers = tuple(as_record(w) for w in session.scalars(waiver_query))
    if known_at is not None:  # granted later: unknown then; revoked later: still in force then
        waivers = tuple(
            w if w.revoked_at is None or w.revoked_at <= known_at else replace(w, revoked_at=None)
            for w in waivers
            if w.granted_at <= known_at
        )
    data = catalogue if catalogue is not None else load_shipped_catalogue()
    controls: dict[str, dict[str, str]] = {fid: dict(c) for fid, c in data.controls.items()}
    for policy in policy_records:
        for framework, control_ids in policy.frameworks.items():
            for control in control_ids:
                controls.setdefault(framework, {}).setdefault(control, control)
    return FleetHistory(
        devices=(),
        policies=policy_records,
        runs={},
        waivers=waivers,
        validity=validity,
        controls=controls,
        framework_titles=dict(data.framework_titles),
        bundles=tuple(b for b in bundle_records(session) if known_at is None or b.published_at <= known_at),
        baselines=baselines_in_force(session, known_at),
        known_at=known_at,
    )


def device_record(d: Device) -> DeviceRecord:
    """A device row as the domain sees it, its free text cleaned (one laptop's name is its own input)."""
    return DeviceRecord(
        device_id=d.id,
        hostname=clean_text(d.hostname),
        platform=Platform(d.platform),
        enrolled_at=d.enrolled_at,
        practice=None if d.practice is None else clean_text(d.practice),
        os_name=clean_text(d.os_name),
        os_version=clean_text(d.os_version),
        hardware_serial=clean_text(d.hardware_serial),
        hardware_uuid=clean_text(d.hardware_uuid),
        last_enrolled_at=d.last_enrolled_at,
    )


def _clean_evidence(rows: list[dict[str, str]] | None) -> tuple[dict[str, str], ...]:
    return tuple({clean_text(str(k)): clean_text(str(v)) for k, v in row.items()} for row in rows or ())


def baselines_in_force(session: Session, known_at: datetime | None = None) -> tuple[Baseline, ...]:
    """The baselines agents run now (or at `known_at`): the newest published bundle's, else the
    shipped catalogue's."""
    from fleetward.bundle.document import parse_bundle
    from fleetward.bundle.files import catalogue_from_files, content_files
    from fleetward.policy.catalogue import load_catalogue

    row = newest_bundle(session, known_at)
    if row is None:
        catalogue = load_catalogue()
    else:
        catalogue = catalogue_from_files(content_files(parse_bundle(row.document.encode("utf-8")).content))
    return tuple(b for _, b in sorted(catalogue.baselines.items()))


def _policy_record(row: Policy) -> PolicyRecord:
    return PolicyRecord(
        id=row.id,
        title=row.title,
        severity=row.severity,
        platforms=tuple(Platform(p) for p in row.platforms),
        grace=timedelta(seconds=row.grace_seconds),
        version=row.version,
        frameworks={k: tuple(v) for k, v in row.frameworks.items()},
        baseline=row.baseline,
        remediation=row.remediation,
    )
