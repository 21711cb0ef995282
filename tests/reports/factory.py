"""Fleet histories for report tests: every status and every edge, at fixed instants."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from collector.domain.fleet import BundleRecord, DeviceRecord, FleetHistory, PairKey, PolicyRecord
from collector.domain.runs import Run
from collector.domain.state import Waiver
from fleetward.policy.model import Platform
from fleetward.policy.verdict import Status

START = datetime(2026, 3, 1, tzinfo=UTC)
AT = datetime(2026, 3, 31, 12, tzinfo=UTC)
DAY = timedelta(days=1)
ALL = (Platform.WINDOWS, Platform.DARWIN, Platform.LINUX)

ENCRYPTION = PolicyRecord(
    id="encryption-disk",
    title="System drive encrypted",
    severity="high",
    platforms=ALL,
    grace=timedelta(0),
    version="enc-v2",
    frameworks={"dspt": ("9.5.2",), "cis-controls-v8": ("3.6",)},
    remediation="Turn on BitLocker, FileVault or LUKS.",
)
PATCH = PolicyRecord(
    id="patch-level",
    title="Security updates within 14 days",
    severity="critical",
    platforms=ALL,
    grace=timedelta(days=14),
    version="patch-v7",
    frameworks={"cyber-essentials": ("A6.4",), "dspt": ("8.3.1",)},
    baseline="os-patch-floors",
    remediation="Install the latest cumulative update.",
)
FIREWALL = PolicyRecord(
    id="firewall-on",
    title="Host firewall on <all profiles>",
    severity="medium",
    platforms=(Platform.WINDOWS, Platform.DARWIN),
    grace=timedelta(0),
    version="fw-v1",
    frameworks={"cyber-essentials": ("A4.1",)},
    remediation="Turn the firewall on for every profile.",
)
POLICIES = (ENCRYPTION, PATCH, FIREWALL)
CONTROLS = {
    "dspt": {
        "9.5.2": "Laptops holding personal data are encrypted",
        "8.3.1": "Systems kept patched",
        "1.3.1": "Security policies up to date",
    },
    "cyber-essentials": {"A6.4": "OS updates within 14 days", "A4.1": "Firewalls"},
    "cis-controls-v8": {"3.6": "Encrypt data on end-user devices"},
}
TITLES = {
    "dspt": "DSPT v8 (GP)",
    "cyber-essentials": "Cyber Essentials v3.3",
    "cis-controls-v8": "CIS Controls v8",
}

BITLOCKER_OFF = (
    {"drive_letter": "C:", "protection_status": "0", "conversion_status": "0", "compliant": "0"},
)


@dataclass
class FleetBuilder:
    devices: list[DeviceRecord] = field(default_factory=list)
    runs: dict[PairKey, tuple[Run, ...]] = field(default_factory=dict)
    waivers: list[Waiver] = field(default_factory=list)
    policies: tuple[PolicyRecord, ...] = POLICIES

    def device(
        self,
        device_id: str,
        platform: Platform = Platform.WINDOWS,
        *,
        practice: str | None = "P81001",
        enrolled: datetime = START - 60 * DAY,
        re_enrolled: datetime | None = None,
    ) -> str:
        self.devices.append(
            DeviceRecord(
                device_id=device_id,
                hostname=f"{device_id}.practice.nhs.uk",
                platform=platform,
                enrolled_at=enrolled,
                practice=practice,
                os_name=f"{platform.value} os",
                os_version="1.0",
                hardware_serial=f"SN-{device_id}",
                last_enrolled_at=re_enrolled,
            )
        )
        return device_id

    def run(
        self,
        device_id: str,
        policy: PolicyRecord,
        status: Status,
        since: datetime,
        last_seen: datetime = AT - DAY / 24,
        *,
        evidence: tuple[dict[str, str], ...] = (),
        error: str | None = None,
        version: str | None = None,
    ) -> None:
        run = Run(status, version or policy.version, since, last_seen, evidence, error)
        self.runs[(device_id, policy.id)] = (*self.runs.get((device_id, policy.id), ()), run)

    def history(self) -> FleetHistory:
        return FleetHistory(
            devices=tuple(self.devices),
            policies=self.policies,
            runs=dict(self.runs),
            waivers=tuple(self.waivers),
            bundles=(
                BundleRecord(
                    version=3, digest="b" * 64, published_at=START - 20 * DAY, created_at=START - 21 * DAY
                ),
                BundleRecord(
                    version=4, digest="c" * 64, published_at=START + 10 * DAY, created_at=START + 9 * DAY
                ),
            ),
            controls=CONTROLS,
            framework_titles=TITLES,
        )


def mixed_fleet() -> FleetHistory:
    """One device per status and edge, with the outcome at AT noted beside it."""
    f = FleetBuilder()
    old = START - 50 * DAY
    d = f.device("dev-pass")  # every pair pass
    for policy in POLICIES:
        f.run(d, policy, Status.PASS, old)
    d = f.device("dev-fail")  # encryption fail since START+5d (breach), firewall error, patch pass
    f.run(d, ENCRYPTION, Status.PASS, old, START + 4 * DAY)
    f.run(d, ENCRYPTION, Status.FAIL, START + 5 * DAY, evidence=BITLOCKER_OFF)
    f.run(d, PATCH, Status.PASS, old)
    f.run(d, FIREWALL, Status.ERROR, START + 20 * DAY, error="no such table: windows_firewall_profiles")
    d = f.device("dev-grace", Platform.DARWIN)  # patch failing for 3 days of a 14-day grace
    f.run(d, ENCRYPTION, Status.PASS, old)
    f.run(d, PATCH, Status.PASS, old, AT - 3 * DAY - DAY / 24)
    f.run(d, PATCH, Status.FAIL, AT - 3 * DAY, evidence=({"version": "14.1", "compliant": "0"},))
    f.run(d, FIREWALL, Status.PASS, old)
    d = f.device("dev-waived", Platform.LINUX, practice="P81002")  # encryption fail under a device waiver
    f.run(d, ENCRYPTION, Status.FAIL, START, evidence=({"name": "sda", "type": "", "compliant": "0"},))
    f.run(d, PATCH, Status.PASS, old)
    f.waivers.append(
        Waiver(
            id="w-device",
            policy_id=ENCRYPTION.id,
            justification="Kiosk laptop, no patient data",
            owner="Dr A. Practice Manager",
            granted_at=START - DAY,
            expires_at=AT + 60 * DAY,
            device_id=d,
            granted_by="admin:ops",
        )
    )
    d = f.device("dev-na", Platform.LINUX, practice="P81002")  # firewall reported as not applicable
    f.run(d, ENCRYPTION, Status.PASS, old)
    f.run(d, PATCH, Status.PASS, old)
    f.run(d, FIREWALL, Status.NOT_APPLICABLE, old)
    d = f.device("dev-stale")  # silent for 40 days
    for policy in POLICIES:
        f.run(d, policy, Status.PASS, old, AT - 40 * DAY)
    d = f.device("dev-expired", practice="P81003")  # practice waiver on patch expired mid-period
    f.run(d, ENCRYPTION, Status.PASS, old)
    f.run(d, PATCH, Status.FAIL, START - 30 * DAY, evidence=({"build": "22631", "compliant": "0"},))
    f.run(d, FIREWALL, Status.PASS, old)
    f.waivers.append(
        Waiver(
            id="w-practice",
            policy_id=PATCH.id,
            justification="Clinical system certified on this build only",
            owner="ICB IT lead",
            granted_at=START - 20 * DAY,
            expires_at=AT - 10 * DAY,
            practice="P81003",
            granted_by="admin:ops",
        )
    )
    f.waivers.append(
        Waiver(
            id="w-revoked",
            policy_id=FIREWALL.id,
            justification="Temporary, vendor install",
            owner="ICB IT lead",
            granted_at=START,
            expires_at=AT + 10 * DAY,
            device_id="dev-fail",
            revoked_at=START + 2 * DAY,
        )
    )
    d = f.device("dev-reenrolled", re_enrolled=START + 12 * DAY)  # reinstalled, same hardware, history kept
    for policy in POLICIES:
        f.run(d, policy, Status.PASS, old, START + 10 * DAY)
        f.run(d, policy, Status.PASS, START + 12 * DAY, version="old" if policy is FIREWALL else None)
    d = f.device("dev-never")  # enrolled, never reported: stale
    f.device("dev-later", enrolled=AT + DAY)  # enrolled after the instant: not in the report
    return f.history()


def empty_fleet() -> FleetHistory:
    return FleetBuilder().history()


def all_stale_fleet() -> FleetHistory:
    f = FleetBuilder()
    for index in range(3):
        d = f.device(f"dev-silent-{index}")
        for policy in POLICIES:
            f.run(d, policy, Status.PASS, START - 90 * DAY, START - 45 * DAY)
    return f.history()
