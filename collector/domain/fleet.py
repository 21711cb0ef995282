"""A fleet's history as plain data, and its state at any instant.

`FleetHistory` is what the store hands to pure code (reports, the dashboard, tests): devices,
policies, every pair's status runs and every waiver. `fleet_state_at` derives each pair's
auditor status at an instant from it; nothing here touches a database or a clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from collector.domain.runs import Run
from collector.domain.state import DEFAULT_VALIDITY, PairState, Waiver, active_waiver, pair_state_at
from fleetward.policy.baseline import Baseline
from fleetward.policy.model import Platform

PairKey = tuple[str, str]  # (device_id, policy_id)


@dataclass(frozen=True)
class DeviceRecord:
    device_id: str
    hostname: str
    platform: Platform
    enrolled_at: datetime
    practice: str | None = None
    os_name: str = ""
    os_version: str = ""
    hardware_serial: str = ""
    hardware_uuid: str = ""
    last_enrolled_at: datetime | None = None  # set when the same hardware enrolled again


@dataclass(frozen=True)
class PolicyRecord:
    id: str
    title: str
    severity: str
    platforms: tuple[Platform, ...]
    grace: timedelta
    version: str
    frameworks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    baseline: str | None = None
    remediation: str = ""


@dataclass(frozen=True)
class BundleRecord:
    version: int
    digest: str
    published_at: datetime
    created_at: datetime


@dataclass(frozen=True)
class LateReport:
    """A report some of whose results were observed before what the collector already knew of
    their pairs: it changed the recorded past, so reports flag it (docs/data-model.md)."""

    device_id: str
    observed_at: datetime
    received_at: datetime
    late_results: int


@dataclass(frozen=True)
class FleetHistory:
    devices: tuple[DeviceRecord, ...]
    policies: tuple[PolicyRecord, ...]
    runs: Mapping[PairKey, tuple[Run, ...]]
    waivers: tuple[Waiver, ...] = ()
    validity: timedelta = DEFAULT_VALIDITY
    bundles: tuple[BundleRecord, ...] = ()
    # framework id -> control id -> control title, for roll-ups by control
    controls: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    framework_titles: Mapping[str, str] = field(default_factory=dict)
    # The patch baselines of the newest published bundle (else the shipped catalogue), so reports
    # and the dashboard can show their provenance and freshness at the instant they show.
    baselines: tuple[Baseline, ...] = ()
    late_reports: tuple[LateReport, ...] = ()
    # The knowledge instant: only what the collector had received by then (collector/domain/
    # knowledge.py); None: everything it holds now.
    known_at: datetime | None = None


@dataclass(frozen=True)
class PairRow:
    device: DeviceRecord
    policy: PolicyRecord
    state: PairState


def fleet_state_at(history: FleetHistory, at: datetime) -> list[PairRow]:
    """Every (device enrolled by `at`, applicable policy) pair with its status at `at`, sorted."""
    rows: list[PairRow] = []
    for device in sorted(history.devices, key=lambda d: (d.hostname, d.device_id)):
        if device.enrolled_at > at:
            continue
        for policy in sorted(history.policies, key=lambda p: p.id):
            runs = history.runs.get((device.device_id, policy.id), ())
            reported = bool(runs) and runs[0].since <= at
            if not reported and device.platform not in policy.platforms:
                # Cannot apply and not reported by `at`: not part of this device's picture then.
                # (Only what was known by `at` may shape the state at `at`.)
                continue
            waiver = active_waiver(history.waivers, device.device_id, device.practice, policy.id, at)
            state = pair_state_at(
                runs,
                at,
                grace=policy.grace,
                validity=history.validity,
                waiver=waiver,
                applies=device.platform in policy.platforms,
            )
            rows.append(PairRow(device, policy, state))
    return rows
