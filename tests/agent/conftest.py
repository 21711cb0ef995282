"""Recorded devices and a running fake osqueryd for the agent's tests."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from fleetward.recorded import RecordedDevice
from tests.support.osquery_server import RecordedOsqueryd, short_socket_path

# When every shipped baseline holds the floor in force (the Windows feed ends at June 2026).
RECORDED_AT = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)


def windows_laptop(*, bitlocker_on: bool = True, name: str = "win11-test") -> RecordedDevice:
    return RecordedDevice(
        name=name,
        platform="windows",
        recorded_at=RECORDED_AT,
        tables={
            "os_version": [
                {
                    "name": "Microsoft Windows 11 Enterprise",
                    "version": "10.0.26100",
                    "major": "10",
                    "minor": "0",
                    "build": "26100",
                    "revision": "8655",
                    "platform": "windows",
                    "platform_like": "windows",
                    "arch": "64-bit",
                }
            ],
            "system_info": [
                {
                    "hostname": "GP-LAPTOP-017",
                    "uuid": "4C4C4544-0042-3510-8052-B4C04F4E3232",
                    "hardware_serial": "5R2LNN3",
                    "hardware_vendor": "Dell Inc.",
                    "hardware_model": "Latitude 5440",
                    "computer_name": "GP-LAPTOP-017",
                    "physical_memory": "17179869184",
                }
            ],
            "bitlocker_info": [
                {
                    "device_id": "\\\\?\\Volume{1}",
                    "drive_letter": "C:",
                    "conversion_status": "1" if bitlocker_on else "0",
                    "protection_status": "1" if bitlocker_on else "0",
                    "encryption_method": "XTS_AES_128" if bitlocker_on else "None",
                    "percentage_encrypted": "100" if bitlocker_on else "0",
                }
            ],
        },
    )


def ubuntu_laptop() -> RecordedDevice:
    return RecordedDevice(
        name="ubuntu-test",
        platform="linux",
        recorded_at=RECORDED_AT,
        tables={
            "os_version": [
                {
                    "name": "Ubuntu",
                    "version": "24.04.1 LTS (Noble Numbat)",
                    "major": "24",
                    "minor": "4",
                    "patch": "1",
                    "platform": "ubuntu",
                    "platform_like": "debian",
                    "codename": "noble",
                    "arch": "x86_64",
                }
            ],
            "system_info": [{"hostname": "gp-ubuntu-3", "uuid": "0a9f-ubuntu-3", "hardware_serial": "PF3X"}],
        },
        errors={"disk_encryption": "disk_encryption requires root"},
    )


@pytest.fixture
def windows_device() -> RecordedDevice:
    return windows_laptop()


@pytest.fixture
def osqueryd(windows_device: RecordedDevice) -> Iterator[RecordedOsqueryd]:
    with RecordedOsqueryd(windows_device, short_socket_path()) as server:
        yield server
