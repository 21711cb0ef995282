"""Extension tables: tables an osquery extension (Fleet's orbit, for one) registers with osqueryd.

A set is a YAML file in fleetward/recorded/extensions/ (`fleet-orbit.yaml`), or the same shape under
`extension_tables:` in a catalogue's catalogue.yaml. Each table names the platforms the extension
registers it on, its columns as osquery-go declares them, and where that declaration is. osqueryd
answers an extension table like any other; a column or table the extension does not declare is
`no such column` / `no such table`, as for core tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fleetward.errors import DeviceRecordError
from fleetward.platform import Platform
from fleetward.recorded.schema import Column, Table

EXTENSIONS_DIR = "extensions"
ColumnType = Literal["TEXT", "INTEGER", "BIGINT", "DOUBLE"]


class ExtensionTable(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    platforms: tuple[Platform, ...] = Field(min_length=1)
    columns: dict[str, ColumnType] = Field(min_length=1)
    source: str = ""
    required: tuple[str, ...] = ()
    missing_constraint_error: str | None = Field(
        default=None, description="What the extension answers when a required column has no constraint."
    )

    def as_table(self, name: str) -> Table:
        platforms = frozenset(p.value for p in self.platforms)
        columns = tuple(
            Column(name=c, type=t, hidden=False, platforms=platforms, required=c in self.required)
            for c, t in self.columns.items()
        )
        return Table(
            name=name,
            platforms=platforms,
            columns=columns,
            spec=self.source,
            required_message=self.missing_constraint_error,
        )


class ExtensionSet(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    source: str = ""
    tables: dict[str, ExtensionTable]


def bundled_extension_names() -> tuple[str, ...]:
    folder = resources.files("fleetward.recorded").joinpath(EXTENSIONS_DIR)
    return tuple(sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml")))


@cache
def bundled_extension(name: str) -> ExtensionSet:
    """A shipped extension set by name; DeviceRecordError naming the known ones otherwise."""
    resource = resources.files("fleetward.recorded").joinpath(EXTENSIONS_DIR, f"{name}.yaml")
    if not resource.is_file():
        raise DeviceRecordError(
            f"unknown extension set {name!r}; known: {', '.join(bundled_extension_names()) or 'none'}"
        )
    try:
        return ExtensionSet.model_validate(yaml.safe_load(resource.read_text("utf-8")))
    except ValidationError as exc:  # a shipped file is wrong: say which
        raise DeviceRecordError(f"fleetward/recorded/extensions/{name}.yaml: {exc}") from exc


def extension_tables(
    sets: Iterable[str] = (), inline: Mapping[str, ExtensionTable] | None = None
) -> tuple[Table, ...]:
    """The tables of the named bundled sets plus inline definitions (inline wins on a name clash)."""
    tables: dict[str, Table] = {}
    for name in sets:
        for table_name, table in bundled_extension(name).tables.items():
            tables[table_name] = table.as_table(table_name)
    for table_name, table in (inline or {}).items():
        tables[table_name] = table.as_table(table_name)
    return tuple(tables.values())
