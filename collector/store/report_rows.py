"""The fleet for a streamed report: the small tables whole, devices and their runs a page at a time.

`report_context` is a `FleetHistory` without devices or runs (policies, waivers, bundles,
baselines, late reports, controls: thousands of rows at most). `device_pages` then walks the
devices in (hostname, id) order, the report's order, by keyset pagination, and fetches each
page's runs with one indexed query (the unique (device_id, policy_id, since) index), so memory
is one page whatever the fleet size and no query sorts the whole `status_runs` table. Closing
the generator (a client that went away) stops between pages. Text is cleaned as `load_history`
cleans it, so a streamed report and one built from `load_history` read the same values.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from collector.domain.fleet import DeviceRecord, FleetHistory, LateReport, PairKey
from collector.domain.runs import Run
from collector.store.bundles import bundle_records
from collector.store.history import _clean_evidence, _policy_record, baselines_in_force, device_record
from collector.store.models import Device, IngestedReport, Policy, StatusRun, Waiver
from collector.store.policies import CatalogueData, load_shipped_catalogue
from collector.store.waivers import as_record
from fleetward.bounds import clean_text
from fleetward.policy.verdict import Status

PAGE = 1000  # devices per page: ~15,000 runs, a few MiB


@dataclass(frozen=True)
class DevicePage:
    """One page of devices and every run of theirs (what `device_pairs` reads as `runs`)."""

    devices: tuple[DeviceRecord, ...]
    runs: Mapping[PairKey, tuple[Run, ...]]
    validity: timedelta


def report_context(
    session: Session, *, validity: timedelta, catalogue: CatalogueData | None = None
) -> FleetHistory:
    """Everything a report needs but the devices and runs."""
    policies = tuple(_policy_record(p) for p in session.scalars(select(Policy).order_by(Policy.id)))
    data = catalogue if catalogue is not None else load_shipped_catalogue()
    controls: dict[str, dict[str, str]] = {fid: dict(c) for fid, c in data.controls.items()}
    for policy in policies:
        for framework, control_ids in policy.frameworks.items():
            for control in control_ids:
                controls.setdefault(framework, {}).setdefault(control, control)
    late = session.scalars(
        select(IngestedReport)
        .where(IngestedReport.late_results > 0)
        .order_by(IngestedReport.received_at, IngestedReport.report_id)
    )
    return FleetHistory(
        devices=(),
        policies=policies,
        runs={},
        waivers=tuple(
            as_record(w) for w in session.scalars(select(Waiver).order_by(Waiver.granted_at, Waiver.id))
        ),
        validity=validity,
        controls=controls,
        framework_titles=dict(data.framework_titles),
        bundles=bundle_records(session),
        baselines=baselines_in_force(session),
        late_reports=tuple(
            LateReport(r.device_id, r.observed_at, r.received_at, r.late_results) for r in late
        ),
    )


def device_pages(session: Session, *, validity: timedelta, page: int = PAGE) -> Iterator[DevicePage]:
    """Every device, in (hostname, id) order, a page at a time with its runs."""
    after: tuple[str, str] | None = None
    key = _bytewise(session, Device.hostname), _bytewise(session, Device.id)
    while True:
        query = select(Device).order_by(*key).limit(page)
        if after is not None:
            query = query.where(tuple_(*key) > tuple_(*after))
        rows = list(session.scalars(query))
        if not rows:
            return
        after = (rows[-1].hostname, rows[-1].id)  # the stored values, for the keyset
        devices = tuple(device_record(d) for d in rows)
        session.expunge_all()  # nothing of a page outlives it in the identity map
        yield DevicePage(devices, _runs_of(session, [d.device_id for d in devices]), validity)
        if len(rows) < page:
            return


def _bytewise(session: Session, column: Any) -> Any:
    """The column ordered by code point, as Python sorts strings (and so `build_report`):
    PostgreSQL's default collation is the locale's; SQLite's BINARY already is."""
    return column.collate("C") if session.get_bind().dialect.name == "postgresql" else column


_STATUSES = {s.value: s for s in Status}


def _runs_of(session: Session, device_ids: list[str]) -> dict[PairKey, tuple[Run, ...]]:
    query = (
        select(
            StatusRun.device_id,
            StatusRun.policy_id,
            StatusRun.status,
            StatusRun.policy_version,
            StatusRun.since,
            StatusRun.last_seen,
            StatusRun.error,
            StatusRun.evidence,
        )
        .where(StatusRun.device_id.in_(device_ids))
        .order_by(StatusRun.device_id, StatusRun.policy_id, StatusRun.since)
    )
    runs: dict[PairKey, list[Run]] = {}
    row: Any
    for row in session.execute(query):
        error = None if row[6] is None else clean_text(row[6])
        runs.setdefault((row[0], row[1]), []).append(
            Run(_STATUSES[row[2]], row[3], row[4], row[5], _clean_evidence(row[7]), error)
        )
    return {key: tuple(value) for key, value in runs.items()}
