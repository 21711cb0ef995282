"""osquery's tables per release, as generated from its specs by scripts/osquery_schema.py.

One JSON file per supported release in fleetward/recorded/schemas/ (`osquery-<release>.json`). For a
platform, a table has every column its spec declares: columns from `extended_schema` for other
platforms are there but hidden (tools/codegen/gentable.py), so they compile and read NULL, exactly as
on osqueryd. A column a release does not declare is `no such column` there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

from fleetward.errors import DeviceRecordError
from fleetward.platform import Platform
from fleetward.recorded.versions import compare

SCHEMA_DIR = "schemas"


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    hidden: bool
    platforms: frozenset[str]
    collate: str | None = None
    required: bool = False
    index: bool = False
    additional: bool = False
    optimized: bool = False
    alias_of: str | None = None

    def native_to(self, platform: Platform) -> bool:
        """Declared for this platform (not an extended column of another one)."""
        return platform.value in self.platforms

    def hidden_on(self, platform: Platform) -> bool:
        return self.hidden or self.alias_of is not None or not self.native_to(platform)

    @property
    def sql_type(self) -> str:
        # gentable.py: DATE and DATETIME are TEXT_TYPE.
        return "TEXT" if self.type in ("DATE", "DATETIME") else self.type


@dataclass(frozen=True)
class Table:
    name: str
    platforms: frozenset[str]
    columns: tuple[Column, ...]
    aliases: tuple[str, ...] = ()
    spec: str = ""
    # An extension's own answer to a scan without its required column (None: osquery's message).
    required_message: str | None = None

    def columns_for(self, platform: Platform) -> tuple[Column, ...]:
        """The columns a table implementation on `platform` can fill (its native ones)."""
        return tuple(c for c in self.columns if c.native_to(platform) and c.alias_of is None)

    def declared_for(self, platform: Platform) -> tuple[Column, ...]:
        """Every column osqueryd on `platform` declares, in spec order (extended ones hidden)."""
        return self.columns

    @property
    def has_required(self) -> bool:
        return any(c.required for c in self.columns)


class OsquerySchema:
    def __init__(
        self, release: str, source: str, tables: dict[str, Table], sqlite_version: str = "3.42.0"
    ) -> None:
        self.release = release
        self.source = source
        self.tables = tables
        self.sqlite_version = sqlite_version

    def table(self, name: str) -> Table | None:
        return self.tables.get(name)

    def tables_for(self, platform: Platform) -> list[Table]:
        return [t for t in self.tables.values() if platform.value in t.platforms]

    def has_column(self, table: str, column: str, platform: Platform) -> bool:
        spec = self.tables.get(table)
        if spec is None or platform.value not in spec.platforms:
            return False
        return any(c.name == column for c in spec.declared_for(platform))


def supported_releases() -> tuple[str, ...]:
    """Every release with a schema here, oldest first."""
    folder = resources.files("fleetward.recorded").joinpath(SCHEMA_DIR)
    names = [p.name.removeprefix("osquery-").removesuffix(".json") for p in folder.iterdir()]
    return tuple(sorted((n for n in names if n[:1].isdigit()), key=_release_key))


def _release_key(release: str) -> tuple[int, ...]:
    return tuple(int(part) for part in release.split(".") if part.isdigit())


def newest_release() -> str:
    return supported_releases()[-1]


@cache
def load_schema(release: str | None = None) -> OsquerySchema:
    """The schema of `release` (default: the newest); DeviceRecordError for a release we lack."""
    chosen = release or newest_release()
    resource = resources.files("fleetward.recorded").joinpath(SCHEMA_DIR, f"osquery-{chosen}.json")
    if not resource.is_file():
        known = ", ".join(supported_releases())
        raise DeviceRecordError(
            f"no schema for osquery {chosen}; supported releases: {known} "
            f"(generate one with scripts/osquery_schema.py {chosen})"
        )
    raw = json.loads(resource.read_text("utf-8"))
    tables: dict[str, Table] = {}
    for name, spec in raw["tables"].items():
        columns: list[Column] = []
        for c in spec["columns"]:
            column = Column(
                name=c["name"],
                type=c["type"],
                hidden=bool(c.get("hidden", False)),
                platforms=frozenset(c.get("platforms", spec["platforms"])),
                collate=c.get("collate"),
                required=bool(c.get("required", False)),
                index=bool(c.get("index", False)),
                additional=bool(c.get("additional", False)),
                optimized=bool(c.get("optimized", False)),
            )
            columns.append(column)
            # Column aliases are hidden columns answering with the target's value (virtual_table.cpp).
            columns.extend(
                Column(
                    name=a, type=column.type, hidden=True, platforms=column.platforms, alias_of=column.name
                )
                for a in c.get("aliases", ())
            )
        tables[name] = Table(
            name=name,
            platforms=frozenset(spec["platforms"]),
            columns=tuple(columns),
            aliases=tuple(spec.get("aliases", ())),
            spec=spec.get("spec", ""),
        )
    return OsquerySchema(
        release=str(raw.get("release", chosen)),
        source=str(raw.get("source", "")),
        tables=tables,
        sqlite_version=str(raw.get("sqlite_version", "3.42.0")),
    )


def release_at_least(release: str, minimum: str) -> bool:
    return compare(release, minimum) >= 0
