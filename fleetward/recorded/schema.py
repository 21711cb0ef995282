"""osquery's table schema (columns, types, platforms), as generated from osquery's specs/*.table."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

from fleetward.platform import Platform

SCHEMA_RESOURCE = "osquery-schema.json"


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    hidden: bool
    platforms: frozenset[str]
    collate: str | None = None


@dataclass(frozen=True)
class Table:
    name: str
    platforms: frozenset[str]
    columns: tuple[Column, ...]

    def columns_for(self, platform: Platform) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if platform.value in c.platforms)


class OsquerySchema:
    def __init__(self, source: str, tables: dict[str, Table]) -> None:
        self.source = source
        self.tables = tables

    def table(self, name: str) -> Table | None:
        return self.tables.get(name)

    def tables_for(self, platform: Platform) -> list[Table]:
        return [t for t in self.tables.values() if platform.value in t.platforms]


@cache
def load_schema() -> OsquerySchema:
    raw = json.loads(resources.files("fleetward.recorded").joinpath(SCHEMA_RESOURCE).read_text("utf-8"))
    tables: dict[str, Table] = {}
    for name, spec in raw["tables"].items():
        columns = tuple(
            Column(
                name=c["name"],
                type=c["type"],
                hidden=bool(c.get("hidden", False)),
                platforms=frozenset(c.get("platforms", spec["platforms"])),
                collate=c.get("collate"),
            )
            for c in spec["columns"]
        )
        tables[name] = Table(name=name, platforms=frozenset(spec["platforms"]), columns=columns)
    return OsquerySchema(source=str(raw.get("source", "")), tables=tables)
