"""Which osquery platform family a device is, and who it is, from osquery's own tables.

osquery's `os_version.platform` is `windows` or `darwin` on those systems and the os-release ID on
Linux (`ubuntu`, `debian`, `rhel`, ...), with `platform_like` holding ID_LIKE (`debian`, `rhel fedora`).
"""

from __future__ import annotations

from fleetward.errors import UnknownPlatformError
from fleetward.policy.model import Platform
from fleetward.wire import HostIdentity

LINUX_IDS = frozenset(
    {
        "linux",
        "ubuntu",
        "debian",
        "rhel",
        "centos",
        "fedora",
        "rocky",
        "almalinux",
        "amzn",
        "ol",
        "sles",
        "opensuse",
        "opensuse-leap",
        "opensuse-tumbleweed",
        "suse",
        "arch",
        "manjaro",
        "gentoo",
        "linuxmint",
        "pop",
        "elementary",
        "kali",
        "nixos",
        "alpine",
    }
)


def platform_from_os_version(row: dict[str, str]) -> Platform:
    """The platform family of a device from its `os_version` row; UnknownPlatformError otherwise."""
    platform = row.get("platform", "").strip().lower()
    like = row.get("platform_like", "").strip().lower().split()
    if platform == "windows":
        return Platform.WINDOWS
    if platform == "darwin":
        return Platform.DARWIN
    if platform in LINUX_IDS or any(token in LINUX_IDS for token in like):
        return Platform.LINUX
    raise UnknownPlatformError(
        f"os_version.platform is {row.get('platform', '')!r} (platform_like "
        f"{row.get('platform_like', '')!r}), which is not Windows, macOS or a known Linux distribution; "
        "fleetward evaluates windows, darwin and linux devices only"
    )


def host_identity(
    system_info_row: dict[str, str], os_version_row: dict[str, str], practice: str | None = None
) -> HostIdentity:
    """Who the device is, from `system_info` and `os_version` as osquery returns them."""
    uuid = system_info_row.get("uuid", "").strip()
    if not uuid:
        raise UnknownPlatformError(
            "system_info.uuid is empty: osquery could not read the hardware UUID, so the device cannot be "
            "identified (run osqueryd as root/SYSTEM)"
        )
    platform = platform_from_os_version(os_version_row)
    hostname = (
        system_info_row.get("hostname")
        or system_info_row.get("computer_name")
        or system_info_row.get("local_hostname")
        or uuid
    ).strip()
    version = os_version_row.get("version", "").strip()
    revision = os_version_row.get("revision", "").strip()
    if platform is Platform.WINDOWS and revision:
        version = f"{version}.{revision}"  # osquery leaves the UBR out of version on Windows
    return HostIdentity(
        uuid=uuid,
        hardware_serial=system_info_row.get("hardware_serial", "").strip()[:200],
        hostname=hostname[:200],
        platform=platform,
        os_name=os_version_row.get("name", "").strip()[:200],
        os_version=version[:200],
        practice=practice,
    )
