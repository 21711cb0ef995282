"""The recorded-device file format (YAML), documented in docs/reference/recorded-devices.md.

    format: fleetward.recorded-device/v1
    name: win11-ent-compliant           # unique; equals the file stem
    description: what this device shows
    platform: windows                   # windows | darwin | linux (osquery's platform family)
    recorded_at: 2026-11-10T09:00:00Z
    osquery_version: 5.23.1             # a supported release (fleetward/recorded/schemas/)
    sources:                            # table -> where its row shapes come from (spec, C++ file)
      os_version: specs/os_version.table; osquery/tables/system/windows/os_version.cpp
    tables:                             # table -> rows; values as osquery returns them (strings)
      os_version:
        - {name: Microsoft Windows 11 Enterprise, build: "26100", revision: "8655", ...}
    errors:                             # table -> the error osquery gives when that table is queried
      windows_security_center: "WMI query failed"

Every table and column must exist in that release's schema for the platform. A column a row leaves
out is one the table did not set: it reads NULL, as on osqueryd. Numbers are kept as decimal text.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

from fleetward.errors import DeviceRecordError
from fleetward.platform import Platform
from fleetward.recorded.schema import OsquerySchema, Table, load_schema

FORMAT = "fleetward.recorded-device/v1"
Value = str | int | float


class RecordedDevice(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["fleetward.recorded-device/v1"] = "fleetward.recorded-device/v1"
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]*$", max_length=100)]
    description: str = ""
    platform: Platform
    recorded_at: AwareDatetime
    osquery_version: str = "5.23.1"
    sources: dict[str, str] = Field(default_factory=dict)
    extensions: tuple[str, ...] = Field(
        default=(),
        description="Extension sets its osqueryd runs (fleetward/recorded/extensions/), e.g. fleet-orbit",
    )
    tables: dict[str, list[dict[str, str]]] = Field(default_factory=dict)
    errors: dict[str, str] = Field(default_factory=dict)

    @field_validator("tables", mode="before")
    @classmethod
    def _values_as_text(cls, value: object) -> object:
        if not isinstance(value, dict):
            return value
        return {
            table: [_row_as_text(table, i, row) for i, row in enumerate(rows or [])]
            for table, rows in value.items()
        }

    def rows(self, table: str) -> list[dict[str, str]]:
        return self.tables.get(table, [])

    def first(self, table: str, column: str, default: str = "") -> str:
        rows = self.tables.get(table) or []
        return rows[0].get(column, default) if rows else default

    def check_against(self, schema: OsquerySchema, extra_tables: Sequence[Table] = ()) -> list[str]:
        """Problems with tables or columns osquery would not have on this platform."""
        problems: list[str] = []
        extras = {t.name: t for t in extra_tables}
        for table, rows in {**self.tables, **{key: [] for key in self.errors}}.items():
            spec = extras.get(table) or schema.table(table)
            if spec is None:
                problems.append(f"table {table!r} is not an osquery table")
                continue
            if self.platform.value not in spec.platforms:
                problems.append(f"table {table!r} does not exist on {self.platform.value}")
                continue
            known = {c.name for c in spec.columns_for(self.platform)}
            for index, row in enumerate(rows):
                for column in row:
                    if column not in known:
                        problems.append(
                            f"{table}[{index}]: column {column!r} is not in osquery's {table} on "
                            f"{self.platform.value}"
                        )
        return problems

    def with_changes(
        self,
        *,
        name: str | None = None,
        recorded_at: datetime | None = None,
        tables: dict[str, list[dict[str, str]]] | None = None,
        errors: dict[str, str] | None = None,
    ) -> RecordedDevice:
        """A copy with some tables replaced: how the simulator moves a device through time."""
        return self.model_copy(
            update={
                "name": name or self.name,
                "recorded_at": recorded_at or self.recorded_at,
                "tables": {**self.tables, **(tables or {})},
                "errors": self.errors if errors is None else errors,
            }
        )


def _row_as_text(table: str, index: int, row: object) -> dict[str, str]:
    if not isinstance(row, dict):
        raise ValueError(f"{table}[{index}] must be a mapping of column to value")
    out: dict[str, str] = {}
    for column, value in row.items():
        if isinstance(value, bool) or not isinstance(value, Value):
            if value is None:
                out[str(column)] = ""
                continue
            raise ValueError(
                f"{table}[{index}].{column}: {value!r} is not a string or number (osquery returns text)"
            )
        out[str(column)] = str(value)
    return out


def load_device(path: Path, schema: OsquerySchema | None = None) -> RecordedDevice:
    try:
        raw = yaml.safe_load(path.read_text("utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DeviceRecordError(f"{path}: cannot read recorded device: {exc}") from exc
    if not isinstance(raw, dict):
        raise DeviceRecordError(
            f"{path}: a recorded device is a YAML mapping (see docs/reference/recorded-devices.md)"
        )
    try:
        device = RecordedDevice.model_validate(raw)
    except ValidationError as exc:
        details = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise DeviceRecordError(f"{path}: {details}") from exc
    if device.name != path.stem:
        raise DeviceRecordError(f"{path}: name {device.name!r} must equal the file stem {path.stem!r}")
    try:
        release_schema = schema or load_schema(device.osquery_version)
    except DeviceRecordError as exc:
        raise DeviceRecordError(f"{path}: osquery_version: {exc}") from exc
    from fleetward.recorded.extensions import extension_tables

    try:
        extras = extension_tables(device.extensions)
    except DeviceRecordError as exc:
        raise DeviceRecordError(f"{path}: extensions: {exc}") from exc
    problems = device.check_against(release_schema, extras)
    if problems:
        raise DeviceRecordError(f"{path}: " + "; ".join(problems))
    return device


def default_devices_dir() -> Path:
    return Path(__file__).parent / "devices"


def load_devices(directory: Path | None = None) -> list[RecordedDevice]:
    folder = directory or default_devices_dir()
    return [load_device(p) for p in sorted(folder.glob("*.yaml"))]
