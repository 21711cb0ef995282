"""The embedded engine answers like osqueryd: osquery's columns per platform, text values, its errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fleetward.errors import DeviceRecordError, QueryError
from fleetward.policy.model import Platform
from fleetward.recorded import RecordedDevice, RecordedEngine, load_devices
from fleetward.recorded.model import load_device

AT = datetime(2026, 11, 15, tzinfo=UTC)


def engine_for(platform: Platform, **tables: list[dict[str, str]]) -> RecordedEngine:
    return RecordedEngine(RecordedDevice(name="t", platform=platform, recorded_at=AT, tables=tables))


def test_values_come_back_as_text_and_empty_as_empty_string() -> None:
    engine = engine_for(
        Platform.WINDOWS,
        os_version=[{"name": "Microsoft Windows 11 Pro", "build": "26200", "revision": "8655"}],
    )
    (row,) = engine.query("SELECT name, revision, revision + 1 AS next, patch FROM os_version")
    assert row == {"name": "Microsoft Windows 11 Pro", "revision": "8655", "next": "8656", "patch": ""}


def test_integer_columns_compare_as_numbers_like_osquery() -> None:
    engine = engine_for(Platform.WINDOWS, os_version=[{"revision": "10000"}])
    assert engine.query("SELECT revision > 8655 AS newer FROM os_version") == [{"newer": "1"}]


def test_platform_only_columns_and_tables_are_absent_elsewhere() -> None:
    linux = engine_for(Platform.LINUX)
    with pytest.raises(QueryError, match="no such column: revision"):
        linux.query("SELECT revision FROM os_version")
    with pytest.raises(QueryError, match="no such table: bitlocker_info"):
        linux.query("SELECT * FROM bitlocker_info")
    windows = engine_for(Platform.WINDOWS)
    assert "revision" in windows.columns("SELECT * FROM os_version")


def test_version_compare_and_collations_are_registered() -> None:
    engine = engine_for(
        Platform.LINUX,
        deb_packages=[
            {"name": "linux-image-a", "version": "5.15.0-99.109"},
            {"name": "linux-image-b", "version": "5.15.0-161.171"},
        ],
    )
    assert engine.query("SELECT version_compare('26100.8655', '>=', '26100.8037') AS ok") == [{"ok": "1"}]
    top = engine.query("SELECT name FROM deb_packages ORDER BY version DESC LIMIT 1")
    assert top == [{"name": "linux-image-b"}]  # version_dpkg collation, not text order
    with pytest.raises(QueryError, match="Unknown compare operator"):
        engine.query("SELECT version_compare('1', '!=', '2')")


def test_a_recorded_table_error_is_raised_for_queries_that_touch_it() -> None:
    device = RecordedDevice(
        name="t", platform=Platform.WINDOWS, recorded_at=AT, errors={"windows_security_center": "WMI failed"}
    )
    engine = RecordedEngine(device)
    with pytest.raises(QueryError, match="WMI failed"):
        engine.query("SELECT firewall FROM windows_security_center")
    assert engine.query("SELECT 1 AS one FROM os_version") == []


def test_shipped_devices_load_and_identify_themselves() -> None:
    devices = load_devices()
    assert len(devices) >= 20
    assert {d.platform for d in devices} == set(Platform)
    for device in devices:
        assert device.first("system_info", "uuid"), device.name
        assert device.first("os_version", "platform"), device.name


def test_a_device_file_with_a_column_osquery_lacks_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "bad.yaml"
    path.write_text(
        "name: bad\nplatform: linux\nrecorded_at: 2026-11-15T00:00:00Z\n"
        "tables:\n  os_version:\n    - {name: Ubuntu, revision: '1'}\n"
    )
    with pytest.raises(DeviceRecordError, match="column 'revision' is not in osquery's os_version on linux"):
        load_device(path)
