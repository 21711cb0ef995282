"""A simulated laptop's osquery tables at an instant: its template, its own identity, and the
scenario's changes (UBR after each installed release, BitLocker suspended around an update).
Pure: the same device and instant always give the same tables."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from fleetward.recorded.model import RecordedDevice
from simulator.plan import PatchRelease, SimDevice, SimulationPlan


def installed_releases(
    device: SimDevice, plan: SimulationPlan, build: str, at: datetime
) -> list[tuple[PatchRelease, datetime]]:
    """Each release of the device's build inside the period installed by `at`, with when, in order."""
    if device.patch_lag_days is None:
        return []
    installs = []
    for release in _in_period(plan, build):
        installed = datetime.combine(release.released, time(0, tzinfo=UTC)) + timedelta(
            days=device.patch_lag_days
        )
        if installed <= at:
            installs.append((release, installed))
    return installs


def _in_period(plan: SimulationPlan, build: str) -> list[PatchRelease]:
    first, last = plan.start.date(), plan.end.date()
    return [r for r in plan.releases if r.build == build and first <= r.released <= last]


def device_state(
    device: SimDevice, template: RecordedDevice, plan: SimulationPlan, at: datetime
) -> RecordedDevice:
    tables: dict[str, list[dict[str, str]]] = {}
    system = dict(template.rows("system_info")[0]) if template.rows("system_info") else {}
    system.update(
        uuid=device.hardware_uuid,
        hardware_serial=device.serial,
        hostname=device.hostname,
        computer_name=device.hostname.upper()[:15],
        local_hostname=device.hostname,
    )
    tables["system_info"] = [system]
    if template.platform.value == "windows" and device.start_revision is not None:
        tables.update(_windows_changes(device, template, plan, at))
    return template.with_changes(name=f"sim-{device.index:04d}", recorded_at=at, tables=tables)


def _windows_changes(
    device: SimDevice, template: RecordedDevice, plan: SimulationPlan, at: datetime
) -> dict[str, list[dict[str, str]]]:
    build = template.first("os_version", "build")
    installs = installed_releases(device, plan, build, at)
    revision = installs[-1][0].revision if installs else device.start_revision
    os_version = [dict(template.rows("os_version")[0], revision=revision or "")]
    changes = {"os_version": os_version}
    if device.firewall_off_day is not None and at >= plan.start + timedelta(days=device.firewall_off_day):
        changes["windows_security_center"] = [
            dict(row, firewall="Poor") for row in template.rows("windows_security_center")
        ]
    suspended = device.bitlocker_suspend_days and any(
        installed <= at < installed + timedelta(days=device.bitlocker_suspend_days)
        for _, installed in installs
    )
    if suspended:
        changes["bitlocker_info"] = [
            dict(row, protection_status="0") if row.get("drive_letter") == "C:" else dict(row)
            for row in template.rows("bitlocker_info")
        ]
    return changes
