"""The typed stack config: one pydantic model per config key of the ``fleetward`` namespace.

Each top-level field is one Pulumi config key (``fleetward:network``, ``fleetward:vpn`` ...) holding an object,
set with ``pulumi config set --path vpn.sku VpnGw3AZ``. Field aliases are the camelCase names used in the stack
file, so a pydantic error location maps straight to the key a platform engineer has to fix. Secrets are never
part of this model: they are separate secret keys read as ``pulumi.Output`` (see ``SECRET_KEYS``).

Field descriptions are the stack-config reference (``infra.docs_gen`` renders them into docs/ and Pulumi.yaml).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from infra.sizing import DEFAULT_PROFILE_SIZE_GIB, VpnSku

NAMESPACE = "fleetward"

# The Microsoft-registered Azure VPN Client app (Azure Public): global consent, no app registration needed
# (learn vpn-gateway/point-to-site-entra-register-custom-app).
AZURE_VPN_CLIENT_AUDIENCE = "c632b3df-fb67-4d84-bdcf-b95ad541b5c8"

# The DSC configuration package of the AVD agent published by Microsoft for the portal's host pool flow.
AVD_AGENT_ARTIFACT_URL = (
    "https://wvdportalstorageblob.blob.core.windows.net/galleryartifacts/Configuration_1.0.02790.438.zip"
)

REQUIRED_TAGS: tuple[str, ...] = ("environment", "owner", "data-classification", "ods-code")

# Secret keys, read with Config.require_secret; never stored in the model or printed.
SECRET_KEYS: dict[str, str] = {
    "sessionHostAdminPassword": "First local administrator password of the session hosts, kept in Key Vault; "
    "Windows LAPS replaces it with a unique, rotated password per host.",
    "siteSharedKeys": "Object mapping each practice site name to its IPsec pre-shared key (>= 32 characters).",
    "collectorEnrollSecret": "Enroll secret laptops present to the collector (>= 32 characters); stored in Key "
    "Vault and registered by the collector's bootstrap job.",
    "collectorAdminToken": "Bootstrap admin API token of the collector (>= 32 characters); stored in Key Vault.",
}
MIN_SECRET_LENGTH: dict[str, int] = {
    "sessionHostAdminPassword": 14,
    "collectorEnrollSecret": 32,
    "collectorAdminToken": 32,
}


P2sProtocol = Literal["OpenVPN", "IkeV2"]
Weekday = Literal["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _openvpn_only() -> list[P2sProtocol]:
    return ["OpenVPN"]


def _weekdays() -> list[Weekday]:
    return ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        populate_by_name=True,
        str_strip_whitespace=True,
    )


class NetworkConfig(_Model):
    """Address plan of the estate's virtual network (all RFC 1918, no overlaps)."""

    address_space: str = Field("10.60.0.0/16", description="Address space of the estate VNet.")
    gateway_subnet: str = Field(
        "10.60.0.0/26",
        description="`GatewaySubnet` prefix; /27 or larger (needed for AZ SKUs and migration).",
    )
    session_host_subnet: str = Field("10.60.4.0/22", description="Subnet of the AVD session hosts.")
    private_endpoint_subnet: str = Field(
        "10.60.1.0/24", description="Subnet for private endpoints (FSLogix storage, Key Vault)."
    )
    collector_subnet: str = Field(
        "10.60.2.0/24",
        description="Subnet delegated to the Container Apps environment hosting the collector (/27 or larger).",
    )
    database_subnet: str = Field(
        "10.60.3.0/28", description="Subnet delegated to the collector's PostgreSQL flexible server."
    )
    dns_resolver_subnet: str = Field(
        "10.60.3.16/28",
        description="Subnet delegated to the DNS Private Resolver inbound endpoint (/28 or larger) that answers "
        "VPN clients' queries for the private zones.",
    )


class PracticeSite(_Model):
    """A GP practice (or HSCN edge) connected to the gateway by a site-to-site IPsec tunnel."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,40}$", description="Short lowercase name of the site.")
    ods_code: str = Field(pattern=r"^[A-Z0-9]{3,6}$", description="ODS code of the practice.")
    gateway_ip_address: str = Field(description="Public IP address of the practice's VPN device.")
    address_spaces: list[str] = Field(
        min_length=1, description="Private ranges behind the practice's device."
    )


class RootCertificate(_Model):
    name: str = Field(description="Name of the trusted root certificate.")
    public_cert_data: str = Field(description="Base64 DER of the root certificate (no PEM header).")


class RevokedCertificate(_Model):
    name: str = Field(description="Name of the revoked client certificate.")
    thumbprint: str = Field(pattern=r"^[0-9A-Fa-f]{40}$", description="SHA-1 thumbprint of the certificate.")


class CertificateAuthConfig(_Model):
    """Optional certificate authentication beside Entra ID (e.g. for unattended devices)."""

    root_certificates: list[RootCertificate] = Field(min_length=1, description="Trusted root certificates.")
    revoked_certificates: list[RevokedCertificate] = Field(
        default_factory=list, description="Client certificates refused by the gateway."
    )


class VpnConfig(_Model):
    """The VPN gateway: zone-redundant SKU, point-to-site with Entra ID over OpenVPN, site-to-site tunnels."""

    sku: VpnSku = Field(
        "VpnGw1AZ",
        description="Zone-redundant gateway SKU (VpnGw1AZ 250, 2AZ 500, 3AZ 1,000, 4AZ 5,000 users); the "
        "generation follows from it (VpnGw1AZ is Generation1 only).",
    )
    expected_concurrent_users: int = Field(
        200, ge=1, description="Peak concurrent point-to-site users; at most 80% of the SKU's limit."
    )
    client_address_pool: str = Field(
        "172.16.0.0/22", description="Addresses handed to P2S clients; at least one per concurrent user."
    )
    tenant_id: UUID = Field(description="Entra tenant id whose users may connect.")
    audience: UUID = Field(
        UUID(AZURE_VPN_CLIENT_AUDIENCE),
        description="Entra app audience (default: Microsoft-registered Azure VPN Client).",
    )
    client_protocols: list[P2sProtocol] = Field(
        default_factory=_openvpn_only,
        min_length=1,
        description="P2S protocols. Entra ID needs OpenVPN; IkeV2 only with certificate auth. SSTP is refused.",
    )
    certificate_auth: CertificateAuthConfig | None = Field(
        None, description="Optional certificate authentication."
    )
    active_active: bool = Field(True, description="Two gateway instances, each with its own public IP.")
    practice_sites: list[PracticeSite] = Field(
        default_factory=list, description="Practices connected by site-to-site IPsec."
    )


class ScalingConfig(_Model):
    """Practice hours for the scaling plan, in UK local time (`GMT Standard Time`)."""

    ramp_up_start: str = Field(
        "07:30", pattern=r"^\d{2}:\d{2}$", description="Hosts start before surgeries open."
    )
    peak_start: str = Field("08:00", pattern=r"^\d{2}:\d{2}$", description="Core hours start.")
    ramp_down_start: str = Field("18:30", pattern=r"^\d{2}:\d{2}$", description="Core hours end.")
    off_peak_start: str = Field("20:00", pattern=r"^\d{2}:\d{2}$", description="Only minimum hosts stay on.")
    days: list[Weekday] = Field(
        default_factory=_weekdays,
        min_length=1,
        description="Days with practice hours.",
    )
    minimum_hosts_percent: int = Field(20, ge=0, le=100, description="Hosts kept on during ramp-down.")


class DesktopConfig(_Model):
    """The AVD pooled host pool, its desktop application group and workspace."""

    max_session_limit: int = Field(12, ge=1, le=999999, description="Sessions per host (breadth-first).")
    start_vm_on_connect: bool = Field(True, description="Start a deallocated host when a user connects.")
    user_group_object_id: UUID = Field(description="Entra group given Desktop Virtualization User.")
    expected_concurrent_users: int = Field(
        20,
        ge=1,
        description="Peak concurrent desktop sessions; the hosts must carry them plus a spare after losing a zone.",
    )
    avd_service_principal_object_id: UUID = Field(
        description="Object id (not app id) of the tenant's Azure Virtual Desktop service principal "
        "(app 9cdead84-a844-4324-93f2-b2e6bb768d07); given Power On Off Contributor for scaling."
    )
    registration_token_validity: timedelta = Field(
        timedelta(days=14),
        description="How long the host registration token lives, from the deploy (ISO 8601 duration, PT2H "
        "to P30D); every `pulumi up` renews it, so the stack deploys on any date.",
    )
    drive_redirection: bool = Field(
        False, description="Allow local drives in sessions (off: data exfiltration)."
    )
    clipboard_redirection: bool = Field(False, description="Allow clipboard copy in and out of sessions.")
    rdp_shortpath_public: bool = Field(
        True,
        description="Allow RDP Shortpath for public networks (STUN, UDP to clients); off leaves TURN relay only.",
    )
    scaling: ScalingConfig = Field(default_factory=ScalingConfig, description="Practice-hours scaling plan.")


class Installer(_Model):
    """An MSI the host configuration script downloads, checks and installs."""

    url: str = Field(pattern=r"^https://", description="HTTPS URL of the MSI.")
    sha256: str | None = Field(
        None,
        pattern=r"^[0-9A-Fa-f]{64}$",
        description="SHA-256 of the MSI; the script refuses any other file.",
    )
    arguments: str = Field("", description="Extra msiexec arguments.")


class HostInstallers(_Model):
    """Software for clinicians' sessions: Teams media optimisation, multimedia redirection, smartcard middleware.

    Each is an object `{url, sha256, arguments}` (`sha256` pins the MSI; `null` skips the step)."""

    webrtc_redirector: Installer | None = Field(
        default_factory=lambda: Installer(url="https://aka.ms/msrdcwebrtcsvc/msi"),
        description="Remote Desktop WebRTC Redirector Service (Teams media optimisation).",
    )
    multimedia_redirection: Installer | None = Field(
        default_factory=lambda: Installer(url="https://aka.ms/avdmmr/msi"),
        description="Multimedia redirection host component (browser video in sessions).",
    )
    smartcard_middleware: Installer | None = Field(
        None,
        description="NHS smartcard middleware MSI (e.g. the Identity Agent your ICB distributes); unset: not "
        "installed, so smartcard redirection has no middleware behind it.",
    )


class SessionHostsConfig(_Model):
    """Windows 11 multi-session hosts, Entra ID joined, Trusted Launch, no public IP."""

    count: int = Field(2, ge=1, le=500, description="Number of session hosts.")
    vm_size: str = Field("Standard_D8s_v5", description="VM size of each host.")
    image_publisher: str = Field("MicrosoftWindowsDesktop", description="Marketplace image publisher.")
    image_offer: str = Field("windows-11", description="Marketplace image offer.")
    image_sku: str = Field("win11-24h2-avd", description="Windows 11 Enterprise multi-session SKU.")
    image_version: str = Field("latest", description="Image version.")
    admin_username: str = Field("fwadmin", description="Local administrator name (password is a secret key).")
    intune_enrolment: bool = Field(True, description="Enrol the hosts in Intune on Entra join.")
    avd_agent_artifact_url: str = Field(
        AVD_AGENT_ARTIFACT_URL,
        description="DSC package that installs the AVD agent; check the current one in Azure/RDS-Templates.",
    )
    installers: HostInstallers = Field(
        default_factory=lambda: HostInstallers(), description="Installers the host configuration script runs."
    )


class ProfileStorageConfig(_Model):
    """Azure Files premium share holding FSLogix profile containers."""

    share_quota_gib: int = Field(
        1024, alias="shareQuotaGiB", ge=100, le=102400, description="Provisioned size of the share (GiB)."
    )
    users: int = Field(30, ge=1, description="People with a profile on the share (not just concurrent ones).")
    profile_size_gib: int = Field(
        DEFAULT_PROFILE_SIZE_GIB,
        alias="profileSizeGiB",
        ge=1,
        le=2048,
        description="Largest profile container (FSLogix SizeInMBs; Microsoft's default 30 GB); "
        "the share must hold one per user.",
    )


class MonitoringConfig(_Model):
    """Log Analytics and Defender for Cloud."""

    retention_in_days: int = Field(90, ge=30, le=730, description="Log Analytics retention.")
    defender_plans: bool = Field(
        True,
        description="Enable Defender for Cloud plans on the subscription (servers P2, Key Vault, storage, "
        "open-source databases); turn off only where a central team already manages them.",
    )


class CollectorConfig(_Model):
    """Hosting for the fleetward collector: Container Apps (internal) and PostgreSQL flexible server."""

    image: str = Field(description="Container image reference of the collector, pinned by tag or digest.")
    port: int = Field(8800, ge=1, le=65535, description="Port the collector listens on (FLEETWARD_PORT).")
    min_replicas: int = Field(1, ge=0, le=30, description="Minimum replicas.")
    max_replicas: int = Field(3, ge=1, le=30, description="Maximum replicas.")
    postgres_sku: str = Field("Standard_B2s", description="PostgreSQL flexible server compute SKU.")
    postgres_tier: Literal["Burstable", "GeneralPurpose", "MemoryOptimized"] = Field(
        "Burstable", description="PostgreSQL compute tier."
    )
    postgres_version: Literal["15", "16", "17"] = Field("16", description="PostgreSQL major version.")
    postgres_storage_gb: int = Field(32, ge=32, description="PostgreSQL storage size.")
    enroll_secret_validity: timedelta = Field(
        timedelta(days=90),
        description="Lifetime of the enroll secret from its first registration by the collector (ISO 8601).",
    )


class EstateConfig(_Model):
    """The whole stack config of one region's estate."""

    location: str = Field("uksouth", description="Azure region of every resource (UK only for NHS data).")
    name_prefix: str = Field(
        pattern=r"^[a-z][a-z0-9-]{1,14}$", description="Short prefix for resource names, e.g. `fw-uks`."
    )
    tags: dict[str, str] = Field(
        description="Tags on every resource; must include " + ", ".join(f"`{t}`" for t in REQUIRED_TAGS) + "."
    )
    network: NetworkConfig = Field(default_factory=NetworkConfig, description="Address plan.")
    vpn: VpnConfig = Field(description="VPN gateway.")
    desktop: DesktopConfig = Field(description="AVD host pool, application group, workspace, scaling.")
    session_hosts: SessionHostsConfig = Field(
        default_factory=SessionHostsConfig, description="Session hosts."
    )
    profile_storage: ProfileStorageConfig = Field(
        default_factory=ProfileStorageConfig, description="FSLogix profile storage."
    )
    monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig, description="Log Analytics.")
    collector: CollectorConfig = Field(description="Collector hosting.")


def config_key(*path: str | int) -> str:
    """The full Pulumi config key of a location in the model, e.g. ``fleetward:vpn.clientAddressPool``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return f"{NAMESPACE}:{text}"


def expiry_text(moment: datetime) -> str:
    """The registration-token expiry as ARM expects it (UTC, ISO 8601, ``Z``)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def registration_token_expiry(now: datetime, validity: timedelta) -> datetime:
    """The token expiry of a deploy at ``now``: the start of the run's UTC hour plus ``validity``.

    Rounding to the hour keeps repeated runs within an hour from showing a diff, and leaves at least
    ``validity`` less one hour of life.
    """
    hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return hour + validity
