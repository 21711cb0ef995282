from __future__ import annotations

import pytest

from fleetward.errors import UnknownPlatformError
from fleetward.policy.model import Platform
from fleetward.policy.platforms import host_identity, platform_from_os_version
from fleetward.recorded import load_devices


@pytest.mark.parametrize(
    ("platform", "like", "expected"),
    [
        ("windows", "windows", Platform.WINDOWS),
        ("darwin", "darwin", Platform.DARWIN),
        ("ubuntu", "debian", Platform.LINUX),
        ("rhel", "fedora", Platform.LINUX),
        ("somedistro", "rhel fedora", Platform.LINUX),
        ("Ubuntu", "", Platform.LINUX),
    ],
)
def test_platform_family_from_os_version(platform: str, like: str, expected: Platform) -> None:
    assert platform_from_os_version({"platform": platform, "platform_like": like}) is expected


@pytest.mark.parametrize("row", [{"platform": "freebsd", "platform_like": ""}, {}])
def test_unknown_platform_is_a_clear_error(row: dict[str, str]) -> None:
    with pytest.raises(UnknownPlatformError, match="not Windows, macOS or a known Linux"):
        platform_from_os_version(row)


def test_every_recorded_device_identifies_itself() -> None:
    for device in load_devices():
        identity = host_identity(
            device.rows("system_info")[0], device.rows("os_version")[0], practice="Y01234"
        )
        assert identity.platform is device.platform
        assert identity.uuid
        assert identity.hostname
        assert identity.practice == "Y01234"


def test_windows_version_carries_the_ubr() -> None:
    device = next(d for d in load_devices() if d.name == "win11-25h2-ent-compliant")
    identity = host_identity(device.rows("system_info")[0], device.rows("os_version")[0])
    assert identity.os_version == "10.0.26200.8655"
    assert identity.os_name == "Microsoft Windows 11 Enterprise"


def test_missing_uuid_is_refused() -> None:
    with pytest.raises(UnknownPlatformError, match="uuid is empty"):
        host_identity({"hostname": "x"}, {"platform": "windows"})
