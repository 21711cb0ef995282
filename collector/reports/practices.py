"""Roll-up by GP practice (the numbers a practice manager answers for), and the late observations.

Built from the report's own device, pair and breach views, so a practice's numbers add up to the
fleet's: the same rates (docs/auditors.md), its breaches and its stale devices. Devices enrolled
without a practice are grouped under `practice: null`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from collector.domain.fleet import FleetHistory
from collector.reports.model import (
    BreachView,
    DeviceView,
    LateObservationView,
    PairView,
    PracticeRollup,
    Rate,
)
from fleetward.status import AuditStatus


def practice_rollups(
    devices: Sequence[DeviceView], pairs: Sequence[PairView], breaches: Sequence[BreachView]
) -> list[PracticeRollup]:
    practice_of = {d.device_id: d.practice for d in devices}
    members: dict[str | None, list[DeviceView]] = defaultdict(list)
    for device in devices:
        members[device.practice].append(device)
    counts: dict[str | None, dict[AuditStatus, int]] = defaultdict(lambda: dict.fromkeys(AuditStatus, 0))
    for pair in pairs:
        counts[practice_of[pair.device_id]][pair.status] += 1
    breached: dict[str | None, list[BreachView]] = defaultdict(list)
    for breach in breaches:
        breached[practice_of.get(breach.device_id)].append(breach)
    rollups = []
    for practice in sorted(members, key=lambda p: (p is None, p or "")):
        tally = counts[practice]
        applicable = {s: n for s, n in tally.items() if s is not AuditStatus.NOT_APPLICABLE}
        rollups.append(
            PracticeRollup(
                practice=practice,
                devices=Rate.of(sum(d.compliant for d in members[practice]), len(members[practice])),
                pairs=Rate.of(sum(n for s, n in applicable.items() if s.compliant), sum(applicable.values())),
                status_counts=tally,
                breaches=len(breached[practice]),
                ongoing_breaches=sum(b.ongoing for b in breached[practice]),
                stale_devices=sorted(d.hostname for d in members[practice] if d.stale),
            )
        )
    return rollups


def late_views(
    history: FleetHistory, devices: Sequence[DeviceView], start: datetime, at: datetime
) -> list[LateObservationView]:
    """Late reports observed inside [start, at] from devices in the report, oldest observation first."""
    hostnames = {d.device_id: d.hostname for d in devices}
    return sorted(
        (
            LateObservationView(
                device_id=r.device_id,
                hostname=hostnames[r.device_id],
                observed_at=r.observed_at,
                received_at=r.received_at,
                late_results=r.late_results,
            )
            for r in history.late_reports
            if r.device_id in hostnames and start <= r.observed_at <= at
        ),
        key=lambda v: (v.observed_at, v.device_id, v.received_at),
    )
