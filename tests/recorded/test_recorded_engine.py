"""The embedded engine answers like osqueryd of the device's release: its tables, hidden and required
columns, NULLs, text values and error messages (osquery/sql/virtual_table.cpp, dynamic_table_row.cpp,
osquery/core/tables.cpp, tools/codegen/gentable.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from fleetward.errors import DeviceRecordError, QueryError
from fleetward.policy.model import Platform
from fleetward.recorded import RecordedDevice, RecordedEngine, load_devices
from fleetward.recorded.model import load_device
from fleetward.recorded.schema import load_schema, supported_releases

AT = datetime(2026, 11, 15, tzinfo=UTC)


def engine_for(platform: Platform, release: str = "5.23.1", **tables: list[dict[str, str]]) -> RecordedEngine:
    device = RecordedDevice(
        name="t", platform=platform, recorded_at=AT, osquery_version=release, tables=tables
    )
    return RecordedEngine(device)


def test_values_are_text_and_unset_columns_are_null() -> None:
    engine = engine_for(
        Platform.WINDOWS,
        os_version=[{"name": "Microsoft Windows 11 Pro", "build": "26200", "revision": "8655", "patch": ""}],
    )
    (row,) = engine.query(
        "SELECT name, revision, revision + 1 AS next, patch, patch IS NULL AS patch_null, "
        "codename IS NULL AS unset_null FROM os_version"
    )
    # dynamic_table_row.cpp get_column: an empty number and a column the row lacks are NULL, sent as "".
    assert row == {
        "name": "Microsoft Windows 11 Pro",
        "revision": "8655",
        "next": "8656",
        "patch": "",
        "patch_null": "1",
        "unset_null": "1",
    }


def test_integers_parse_like_stol_with_base_zero() -> None:
    engine = engine_for(Platform.LINUX, os_version=[{"major": "0x18", "minor": "04", "patch": "7abc"}])
    assert engine.query("SELECT major, minor, patch FROM os_version") == [
        {"major": "24", "minor": "4", "patch": "7"}
    ]


def test_doubles_come_back_as_osquery_formats_them() -> None:
    engine = engine_for(Platform.LINUX)
    # osquery/utils/conversions/castvariant.h: 15 significant digits, ".0" when there is no point.
    assert engine.query("SELECT 1.0 AS a, 0.1 + 0.2 AS b, 1e20 AS c") == [
        {"a": "1.0", "b": "0.3", "c": "1e+20.0"}
    ]


def test_extended_columns_of_other_platforms_are_hidden_not_missing() -> None:
    linux = engine_for(Platform.LINUX, os_version=[{"name": "Ubuntu"}], secureboot=[{"secure_boot": "1"}])
    # specs/os_version.table extended_schema(WINDOWS, revision): on Linux a hidden column reading NULL.
    assert linux.query("SELECT revision FROM os_version") == [{"revision": ""}]
    assert "revision" not in linux.columns("SELECT * FROM os_version")
    darwin = engine_for(Platform.DARWIN)
    # specs/secureboot.table extended_schema(LINUX + WINDOWS, setup_mode): compiles on macOS too.
    assert darwin.query("SELECT setup_mode FROM secureboot") == []
    assert "setup_mode" in engine_for(Platform.WINDOWS).columns("SELECT * FROM secureboot")


def test_spec_hidden_columns_are_left_out_of_select_star() -> None:
    windows = engine_for(
        Platform.WINDOWS, windows_security_center=[{"firewall": "Good", "antispyware": "Good"}]
    )
    assert "antispyware" not in windows.columns("SELECT * FROM windows_security_center")
    assert windows.query("SELECT antispyware FROM windows_security_center") == [{"antispyware": "Good"}]


def test_a_column_the_release_lacks_is_no_such_column() -> None:
    windows = engine_for(Platform.WINDOWS)
    with pytest.raises(QueryError, match=r"^no such column: protector_types$"):
        windows.query("SELECT protector_types FROM bitlocker_info")  # master-only (#8873)
    old = engine_for(Platform.WINDOWS, release="5.12.1")
    with pytest.raises(QueryError, match="no such column: emulated_cpu_type"):
        old.query("SELECT emulated_cpu_type FROM system_info")
    assert engine_for(Platform.WINDOWS).query("SELECT emulated_cpu_type FROM system_info") == []


def test_required_columns_are_enforced_with_osquerys_message() -> None:
    darwin = engine_for(Platform.DARWIN, plist=[{"path": "/p.plist", "key": "k", "value": "1"}])
    message = "^Table plist was queried without a required column in the WHERE clause$"
    with pytest.raises(QueryError, match=message):
        darwin.query("SELECT key, value FROM plist WHERE key = 'k'")
    with pytest.raises(QueryError, match=message):
        darwin.query("SELECT COUNT(*) FROM plist")
    with pytest.raises(QueryError, match=message):  # sensibleComparison: TEXT ranges do not count
        darwin.query("SELECT key FROM plist WHERE path > '/'")
    assert darwin.query("SELECT key, value FROM plist WHERE path = '/p.plist'") == [
        {"key": "k", "value": "1"}
    ]
    assert darwin.query("SELECT key FROM plist WHERE path IN ('/p.plist', '/q.plist')") == [{"key": "k"}]


def test_only_tables_osquery_builds_exist() -> None:
    linux = engine_for(Platform.LINUX)
    with pytest.raises(QueryError, match="no such table: example"):  # specs/denylist
        linux.query("SELECT * FROM example")
    with pytest.raises(QueryError, match="no such table: bitlocker_info"):
        linux.query("SELECT * FROM bitlocker_info")
    assert "example" not in load_schema().tables


def test_table_aliases_are_views() -> None:
    windows = engine_for(Platform.WINDOWS, programs=[{"name": "7-Zip", "version": "24.09"}])
    assert windows.query("SELECT name FROM programs_and_features") == [{"name": "7-Zip"}]


def test_version_collations_order_columns() -> None:
    engine = engine_for(
        Platform.LINUX,
        deb_packages=[
            {"name": "linux-image-a", "version": "5.15.0-99.109"},
            {"name": "linux-image-b", "version": "5.15.0-161.171"},
        ],
    )
    top = engine.query("SELECT name FROM deb_packages ORDER BY version DESC LIMIT 1")
    assert top == [{"name": "linux-image-b"}]  # version_dpkg collation, not text order
    with pytest.raises(
        QueryError, match=r"^The optional third parameter does not match one of: \(ARCH, DPKG, RHEL\)\.$"
    ):
        engine.query("SELECT version_compare('1', '>=', '2')")


def test_writes_osquery_denies_are_denied() -> None:
    engine = engine_for(Platform.LINUX)
    with pytest.raises(QueryError, match="not authorized"):
        engine.query("ATTACH DATABASE '/tmp/x.db' AS x")


def test_a_recorded_table_error_is_raised_when_the_table_is_scanned() -> None:
    device = RecordedDevice(
        name="t", platform=Platform.WINDOWS, recorded_at=AT, errors={"bitlocker_info": "WMI failed"}
    )
    engine = RecordedEngine(device)
    with pytest.raises(QueryError, match=r"^WMI failed$"):
        engine.query("SELECT drive_letter FROM bitlocker_info")
    assert engine.query("SELECT 1 AS one FROM os_version") == []


def test_shipped_devices_load_with_their_release_and_identify_themselves() -> None:
    devices = load_devices()
    assert len(devices) >= 20
    assert {d.platform for d in devices} == set(Platform)
    assert {d.osquery_version for d in devices} <= set(supported_releases())
    for device in devices:
        assert device.first("system_info", "uuid"), device.name
        assert device.first("os_version", "platform"), device.name


def test_a_device_file_with_a_column_osquery_lacks_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "name: bad\nplatform: linux\nrecorded_at: 2026-11-15T00:00:00Z\n"
        "tables:\n  os_version:\n    - {name: Ubuntu, revision: '1'}\n"
    )
    with pytest.raises(DeviceRecordError, match="column 'revision' is not in osquery's os_version on linux"):
        load_device(path)


def test_a_device_of_an_unsupported_release_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "old.yaml"
    path.write_text("name: old\nplatform: linux\nrecorded_at: 2026-11-15T00:00:00Z\nosquery_version: 5.9.1\n")
    with pytest.raises(
        DeviceRecordError, match=r"no schema for osquery 5\.9\.1; supported releases: 5\.12\.1, 5\.23\.1"
    ):
        load_device(path)


def test_every_shipped_device_names_the_source_of_each_table() -> None:
    for device in load_devices():
        assert set(device.sources) == set(device.tables) | set(device.errors), device.name
        for table, source in device.sources.items():
            spec = load_schema(device.osquery_version).tables[table].spec
            assert source.startswith(spec), f"{device.name}: {table} cites {source!r}, its spec is {spec}"
            assert "osquery/tables/" in source, f"{device.name}: {table} names no C++ implementation"


def test_shipped_rows_hold_values_osquerys_code_can_write() -> None:
    for device in load_devices():
        for row in device.rows("windows_security_products"):
            assert row["signatures_up_to_date"] in ("0", "1"), device.name  # INTEGER(bool)
        for row in device.rows("kernel_info"):
            assert "BOOT_IMAGE=" not in row.get("arguments", ""), device.name
            assert "root=" not in row.get("arguments", ""), device.name
        for row in device.rows("disk_encryption"):
            assert ("uid" in row) == ("user_uuid" in row), device.name  # set together (disk_encryption.mm)
        if device.platform is Platform.DARWIN:
            assert device.first("os_version", "build"), device.name  # ProductBuildVersion is always set
            major = int(device.first("os_version", "major"))
            alf = device.rows("alf")[0]
            assert ("allow_signed_enabled" in alf) == (major < 15), device.name  # firewall.mm genALF
        for row in device.rows("apt_sources"):
            assert row["source"].startswith("/etc/apt/"), device.name  # the file, not the line
            assert "://" not in row["name"], device.name
