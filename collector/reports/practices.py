"""Roll-up by GP practice (the numbers a practice manager answers for), and the late observations.

Counted from the report's own device and breach views as they are made, so a practice's numbers
add up to the fleet's: the same rates (docs/auditors.md), its breaches and its stale devices. Devices enrolled
without a practice are grouped under `practice: null`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime

from collector.domain.fleet import FleetHistory
from collector.reports.model import (
    BreachView,
    DeviceView,
    LateObservationView,
    PracticeRollup,
    Rate,
)
from fleetward.status import AuditStatus


class PracticeTally:
    """Running counts by practice, one device at a time: what a practice's rollup needs, without
    keeping the fleet's devices or pairs."""

    def __init__(self) -> None:
        self._devices: dict[str | None, list[int]] = defaultdict(lambda: [0, 0])  # compliant, total
        self._counts: dict[str | None, dict[AuditStatus, int]] = defaultdict(
            lambda: dict.fromkeys(AuditStatus, 0)
        )
        self._breaches: dict[str | None, list[int]] = defaultdict(lambda: [0, 0])  # all, ongoing
        self._stale: dict[str | None, list[str]] = defaultdict(list)

    def add_device(self, device: DeviceView) -> None:
        tally = self._devices[device.practice]
        tally[0] += device.compliant
        tally[1] += 1
        counts = self._counts[device.practice]
        for status, number in device.status_counts.items():
            counts[status] += number
        if device.stale:
            self._stale[device.practice].append(device.hostname)

    def add_breach(self, practice: str | None, breach: BreachView) -> None:
        tally = self._breaches[practice]
        tally[0] += 1
        tally[1] += breach.ongoing

    def rollups(self) -> list[PracticeRollup]:
        rollups = []
        for practice in sorted(self._devices, key=lambda p: (p is None, p or "")):
            tally = self._counts[practice]
            applicable = {s: n for s, n in tally.items() if s is not AuditStatus.NOT_APPLICABLE}
            compliant, total = self._devices[practice]
            breaches, ongoing = self._breaches[practice]
            rollups.append(
                PracticeRollup(
                    practice=practice,
                    devices=Rate.of(compliant, total),
                    pairs=Rate.of(
                        sum(n for s, n in applicable.items() if s.compliant), sum(applicable.values())
                    ),
                    status_counts=tally,
                    breaches=breaches,
                    ongoing_breaches=ongoing,
                    stale_devices=sorted(self._stale[practice]),
                )
            )
        return rollups


def late_views(
    history: FleetHistory, hostnames: Mapping[str, str], start: datetime, at: datetime
) -> list[LateObservationView]:
    """Late reports observed inside [start, at] from devices in the report (`hostnames`: of the
    report's devices that sent late reports, or more), oldest observation first."""
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
