"""What happens to each simulated laptop, decided up front from the seed. Pure: no I/O, no clock.

The estate looks like a GP region's: mostly Windows 11, some Windows 10 on extended security
updates, a few Macs and Ubuntu laptops, spread over practices. Each device gets a check-in pattern
and the events the issue asks for: adopting each Patch Tuesday release some days after it ships,
BitLocker suspended for the update and resumed, a few days offline, going silent, re-enrolling.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta

from fleetward.recorded.model import RecordedDevice

# (template device name, weight). Templates are shipped recorded devices; most are compliant, a
# few carry the edges auditors must see (an AES-CBC volume, a build past servicing, defences off).
ESTATE_MIX: tuple[tuple[str, int], ...] = (
    ("win11-24h2-ent-compliant", 26),
    ("win11-25h2-ent-compliant", 26),
    ("win11-25h2-pro-compliant", 12),
    ("win10-22h2-pro-esu", 10),
    ("win11-25h2-pro-aes-cbc", 2),
    ("win11-25h2-ent-defences-off", 2),
    ("win11-23h2-ent-past-servicing", 2),
    ("macos-26-compliant", 6),
    ("macos-15-filevault-off", 1),
    ("macos-14-two-majors-behind", 2),
    ("ubuntu-2404-compliant", 6),
    ("ubuntu-2204-luks-data-only", 1),
    ("ubuntu-2004-esm", 2),
)
# Every fleet of at least STORY_MIN_DEVICES has one of each, so the report at the end shows every
# status: an osquery error (WMI broken) and failing defences under a practice waiver.
STORY_TEMPLATES = ("win11-24h2-ent-wmi-error", "win11-25h2-ent-defences-off")
STORY_MIN_DEVICES = 8
FIREWALL_STORY_TEMPLATES = (
    "win11-25h2-ent-compliant",
    "win11-24h2-ent-compliant",
    "win11-25h2-pro-compliant",
)
CHECK_IN_HOURS = (9, 13, 17)  # laptops are on in surgery hours; the agent evaluates at each


@dataclass(frozen=True)
class PatchRelease:
    """A monthly security release for one Windows build: its UBR and release day."""

    build: str
    revision: str
    released: date


@dataclass(frozen=True)
class SimDevice:
    index: int
    template: str
    hostname: str
    hardware_uuid: str
    serial: str
    practice: str
    start_revision: str | None  # Windows UBR before the first simulated release; None elsewhere
    patch_lag_days: int | None  # days after each release before it is installed; None = never
    bitlocker_suspend_days: int  # days BitLocker stays suspended after an update (0 = never)
    offline: tuple[int, int] | None = None  # [first, last) simulated day without network
    silent_from_day: int | None = None  # stops reporting from this day on
    reenroll_day: int | None = None  # its state is wiped and it enrolls again that day
    firewall_off_day: int | None = None  # its firewall is reported off from this day's check-ins on


@dataclass(frozen=True)
class WaiverPlan:
    policy_id: str
    justification: str
    owner: str
    grant_day: int
    expires_day: int
    device_index: int | None = None
    practice: str | None = None


@dataclass(frozen=True)
class SimulationPlan:
    seed: int
    start: datetime
    days: int
    devices: tuple[SimDevice, ...]
    practices: tuple[str, ...]
    releases: tuple[PatchRelease, ...]
    waivers: tuple[WaiverPlan, ...] = field(default=())

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=self.days)

    def check_ins(self, day: int) -> list[datetime]:
        base = datetime.combine(self.start.date() + timedelta(days=day), time(0, tzinfo=UTC))
        return [base + timedelta(hours=h) for h in CHECK_IN_HOURS]


def make_plan(
    *,
    templates: dict[str, RecordedDevice],
    releases: tuple[PatchRelease, ...],
    devices: int,
    days: int,
    seed: int,
    start: datetime,
) -> SimulationPlan:
    rng = random.Random(seed)
    names = [name for name, _ in ESTATE_MIX if name in templates]
    weights = [weight for name, weight in ESTATE_MIX if name in templates]
    practice_count = max(1, min(12, devices // 8))
    practices = tuple(f"P{80000 + i:05d}" for i in range(1, practice_count + 1))
    planned: list[SimDevice] = []
    for index in range(devices):
        name = rng.choices(names, weights)[0]
        template = templates[name]
        planned.append(_device(rng, index, template, practices, releases, days, start))
    planned = _with_rare_events(rng, planned, days)
    if devices >= STORY_MIN_DEVICES:
        for name in STORY_TEMPLATES:
            if name not in templates or any(d.template == name and _ordinary(d) for d in planned):
                continue
            # The last ordinary device (not silent, not re-enrolling, not already a story device).
            index = max(d.index for d in planned if _ordinary(d) and d.template not in STORY_TEMPLATES)
            planned[index] = _device(rng, index, templates[name], practices, releases, days, start)
    if devices >= STORY_MIN_DEVICES:
        planned = _with_firewall_off_at_the_end(planned, days)
    waivers = _waivers(rng, planned, practices, days)
    return SimulationPlan(seed, start, days, tuple(planned), practices, releases, waivers)


def _device(
    rng: random.Random,
    index: int,
    template: RecordedDevice,
    practices: tuple[str, ...],
    releases: tuple[PatchRelease, ...],
    days: int,
    start: datetime,
) -> SimDevice:
    build = template.first("os_version", "build")
    start_revision: str | None = None
    if template.platform.value == "windows":
        earlier = [r for r in releases if r.build == build and r.released < start.date()]
        start_revision = earlier[-1].revision if earlier else template.first("os_version", "revision")
    lag_draw = rng.random()
    lag = rng.randint(0, 6) if lag_draw < 0.65 else rng.randint(7, 20) if lag_draw < 0.92 else None
    practice = rng.choice(practices)
    return SimDevice(
        index=index,
        template=template.name,
        hostname=f"{practice.lower()}-{template.platform.value[:3]}-{index:04d}",
        hardware_uuid=str(uuid.UUID(int=rng.getrandbits(128), version=4)).upper(),
        serial=f"SIM{rng.getrandbits(40):010X}",
        practice=practice,
        start_revision=start_revision,
        patch_lag_days=lag,
        bitlocker_suspend_days=rng.choice((0, 0, 0, 1, 2)),
        offline=_offline(rng, days),
    )


def _with_firewall_off_at_the_end(planned: list[SimDevice], days: int) -> list[SimDevice]:
    """A laptop whose firewall goes off on the last day: at the end it fails a policy with a day's
    grace, so the report shows `in_grace` (no random draw: the rest of the plan is unchanged)."""
    candidates = [
        d
        for d in planned
        if d.template in FIREWALL_STORY_TEMPLATES
        and _ordinary(d)
        and (d.offline is None or d.offline[1] < days)
    ]
    if not candidates or days < 2:
        return planned
    chosen = candidates[-1]
    out = list(planned)
    out[chosen.index] = replace(chosen, firewall_off_day=days - 1)
    return out


def _ordinary(device: SimDevice) -> bool:
    return device.silent_from_day is None and device.reenroll_day is None


def _offline(rng: random.Random, days: int) -> tuple[int, int] | None:
    if days < 10 or rng.random() >= 0.1:
        return None
    first = rng.randint(2, days - 8)
    return (first, first + rng.randint(3, 7))


def _with_rare_events(rng: random.Random, planned: list[SimDevice], days: int) -> list[SimDevice]:
    """One in forty devices goes silent early (stale by the end), one re-enrolls mid-period."""
    if len(planned) < 4:
        return planned
    chosen = rng.sample(range(len(planned)), k=max(2, len(planned) // 40 + 1))
    silent, reenrolling = chosen[:-1], chosen[-1]
    out = list(planned)
    for index in silent:
        out[index] = replace(out[index], silent_from_day=1)
    out[reenrolling] = replace(out[reenrolling], reenroll_day=max(1, days // 2))
    return out


def _waivers(
    rng: random.Random, planned: list[SimDevice], practices: tuple[str, ...], days: int
) -> tuple[WaiverPlan, ...]:
    waivers: list[WaiverPlan] = []
    cbc = [d for d in planned if d.template == "win11-25h2-pro-aes-cbc"]
    if cbc:
        waivers.append(
            WaiverPlan(
                policy_id="encryption-windows-bitlocker",
                justification="Re-encryption with XTS-AES scheduled with the practice; volume is encrypted "
                "with AES-CBC meanwhile",
                owner="ICB GP IT service desk",
                grant_day=min(3, days - 1),
                expires_day=max(4, days // 2),  # expires mid-period: the report must show it lapse
                device_index=cbc[0].index,
            )
        )
    defences_off = [d for d in planned if d.template == "win11-25h2-ent-defences-off" and _ordinary(d)]
    if defences_off:
        waivers.append(
            WaiverPlan(
                policy_id="antimalware-windows-active",
                justification="Third-party EDR under evaluation replaces Defender on this laptop; "
                "review when the trial ends",
                owner="Practice manager",
                grant_day=min(1, days - 1),
                expires_day=days + 5,  # still active at the end, expiring days later: shown as expiring
                device_index=defences_off[0].index,
            )
        )
    if practices:
        waivers.append(
            WaiverPlan(
                policy_id="updates-windows-automatic",
                justification="Updates for this practice are pushed by the ICB's managed service, "
                "not Windows Update's automatic setting",
                owner="ICB GP IT operations",
                grant_day=0,
                expires_day=days + 60,
                # The practice of a laptop that fails it, when there is one, so the end shows `waived`.
                practice=defences_off[0].practice if defences_off else rng.choice(practices),
            )
        )
    return tuple(waivers)
