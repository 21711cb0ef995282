"""Breaches of the remediation window over a report's samples, from the failing runs only.

The report (collector.reports.build) calls a pair in breach at a sampled instant when its status
there is `fail` (failing longer than its policy's grace, not stale, not waived), and lists one
breach per (pair, failing_since) with its last sampled instant in breach. A failing run is in
force on [since, next_since) and not stale while T <= last_seen + validity; it is out of grace
from failing_since + grace. So its samples in breach are a range of the sorted samples, found by
bisection, minus those an active waiver covers (checked per sample with the domain's own rule,
for the few runs a waiver could cover). Only `fail` runs overlapping the window are read.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from collector.domain.state import Waiver, active_waiver
from collector.store.fleet_state import StateFilter, _conditions, _instant
from collector.store.models import Device, Policy, StatusRun
from collector.store.models import Waiver as WaiverRow
from collector.store.waivers import as_record
from fleetward.policy.verdict import Status

_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Breach:
    device_id: str
    policy_id: str
    practice: str | None
    grace: timedelta
    failing_since: datetime
    breached_at: datetime
    days_beyond_grace: float
    ongoing: bool


def breaches(
    session: Session,
    instants: Sequence[datetime],
    *,
    validity: timedelta,
    flt: StateFilter | None = None,
) -> list[Breach]:
    """Breaches over `instants` (sorted trend samples, the last one the report instant), sorted
    as the report sorts them: longest beyond grace first, then device and policy."""
    if not instants:
        return []
    flt = flt or StateFilter()
    first, at = instants[0], instants[-1]
    graces = {
        pid: timedelta(seconds=s) for pid, s in session.execute(select(Policy.id, Policy.grace_seconds))
    }
    waivers = _waiver_index(as_record(w) for w in session.scalars(select(WaiverRow)))
    query = (
        select(
            StatusRun.device_id,
            StatusRun.policy_id,
            Device.practice,
            Device.enrolled_at,
            StatusRun.since,
            StatusRun.next_since,
            StatusRun.last_seen,
            StatusRun.failing_since,
        )
        .join(Device, Device.id == StatusRun.device_id)
        .join(Policy, Policy.id == StatusRun.policy_id)
        .where(
            StatusRun.status == Status.FAIL.value,
            StatusRun.failing_since.is_not(None),
            StatusRun.since <= _instant(at),
            or_(StatusRun.next_since.is_(None), StatusRun.next_since > _instant(first)),
            StatusRun.last_seen >= _instant(first - validity),
            Device.enrolled_at <= _instant(at),
        )
        .where(*_conditions(Device, StatusRun.policy_id.expression, flt))
        .execution_options(yield_per=10_000)
    )
    last_in_breach: dict[tuple[str, str, datetime], tuple[int, str | None]] = {}
    for row in session.execute(query):
        found = _last_sample(row, instants, graces[row.policy_id], validity, waivers)
        if found is None:
            continue
        key = (row.device_id, row.policy_id, row.failing_since)
        if key not in last_in_breach or last_in_breach[key][0] < found:
            last_in_breach[key] = (found, row.practice)
    result = []
    for (device_id, policy_id, failing_since), (index, practice) in last_in_breach.items():
        grace = graces[policy_id]
        result.append(
            Breach(
                device_id=device_id,
                policy_id=policy_id,
                practice=practice,
                grace=grace,
                failing_since=failing_since,
                breached_at=failing_since + grace,
                days_beyond_grace=round((instants[index] - failing_since - grace) / _DAY, 2),
                ongoing=index == len(instants) - 1,
            )
        )
    result.sort(key=lambda b: (-b.days_beyond_grace, b.device_id, b.policy_id))
    return result


WaiverIndex = dict[tuple[str, str], list[Waiver]]  # (policy, device id or "practice:" + code)


def _waiver_index(waivers: Iterable[Waiver]) -> WaiverIndex:
    index: WaiverIndex = defaultdict(list)
    for waiver in waivers:
        if waiver.device_id is not None:
            index[(waiver.policy_id, waiver.device_id)].append(waiver)
        elif waiver.practice is not None:
            index[(waiver.policy_id, "practice:" + waiver.practice)].append(waiver)
    return index


def _last_sample(
    row: Any, instants: Sequence[datetime], grace: timedelta, validity: timedelta, waivers: WaiverIndex
) -> int | None:
    """Index of the last sample at which this failing run is a breach, or None."""
    begin = max(row.since, row.failing_since + grace, row.enrolled_at)
    lo = bisect.bisect_left(instants, begin)
    hi = bisect.bisect_right(instants, row.last_seen + validity)
    if row.next_since is not None:
        hi = min(hi, bisect.bisect_left(instants, row.next_since))
    if lo >= hi:
        return None
    candidates = waivers.get((row.policy_id, row.device_id), [])
    if row.practice is not None:
        candidates = candidates + waivers.get((row.policy_id, "practice:" + row.practice), [])
    if not candidates:
        return hi - 1
    for index in range(hi - 1, lo - 1, -1):
        if active_waiver(candidates, row.device_id, row.practice, row.policy_id, instants[index]) is None:
            return index
    return None
