"""Answer osquery SQL over a recorded device, in SQLite, as osqueryd would.

Tables for the device's platform are created with osquery's columns, types and collations; the
recorded rows are inserted as text; osquery's SQL extensions that policies use are registered.
A table the recording marks as failing raises the recorded error, like osquery does when a table's
generator fails. Values come back as strings, NULL as "", like osquery's Thrift API.
"""

from __future__ import annotations

import re
import sqlite3

from fleetward.errors import QueryError
from fleetward.platform import Platform
from fleetward.recorded import versions
from fleetward.recorded.model import RecordedDevice
from fleetward.recorded.schema import OsquerySchema, Table, load_schema

_SQL_TYPES = {
    "TEXT": "TEXT",
    "INTEGER": "INTEGER",
    "BIGINT": "INTEGER",
    "UNSIGNED_BIGINT": "INTEGER",
    "DOUBLE": "REAL",
    "DATETIME": "TEXT",
}


class RecordedEngine:
    """One device's tables in an in-memory SQLite database."""

    def __init__(self, device: RecordedDevice, schema: OsquerySchema | None = None) -> None:
        self.device = device
        self._schema = schema or load_schema()
        self._db = sqlite3.connect(":memory:", check_same_thread=False)
        self._function_errors: list[str] = []
        _register_osquery_extensions(self._db, self._function_errors)
        self._failing = {name.lower(): message for name, message in device.errors.items()}
        for table in self._schema.tables_for(device.platform):
            if table.name.lower() not in self._failing:
                self._create(table, device.platform, device.rows(table.name))

    @property
    def platform(self) -> Platform:
        return self.device.platform

    def query(self, sql: str) -> list[dict[str, str]]:
        """Rows as osquery returns them; QueryError with osquery-like messages on failure."""
        for table, message in self._failing.items():
            if re.search(rf"\b{re.escape(table)}\b", sql, flags=re.IGNORECASE):
                raise QueryError(message)
        self._function_errors.clear()
        try:
            cursor = self._db.execute(sql)
            names = [d[0] for d in cursor.description or ()]
            return [{n: _as_text(v) for n, v in zip(names, row, strict=True)} for row in cursor.fetchall()]
        except sqlite3.Error as exc:
            # Python's sqlite3 hides a SQL function's message; osquery reports it, so we do too.
            message = self._function_errors[-1] if self._function_errors else _osquery_message(exc)
            raise QueryError(message) from exc

    def columns(self, sql: str) -> list[str]:
        try:
            cursor = self._db.execute(f"SELECT * FROM ({sql}) LIMIT 0")
        except sqlite3.Error as exc:
            raise QueryError(_osquery_message(exc)) from exc
        return [d[0] for d in cursor.description or ()]

    def close(self) -> None:
        self._db.close()

    def _create(self, table: Table, platform: Platform, rows: list[dict[str, str]]) -> None:
        columns = table.columns_for(platform)
        definitions = ", ".join(
            f'"{c.name}" {_SQL_TYPES.get(c.type, "TEXT")}' + (f" COLLATE {c.collate}" if c.collate else "")
            for c in columns
        )
        self._db.execute(f'CREATE TABLE "{table.name}" ({definitions})')
        if rows:
            names = [c.name for c in columns]
            placeholders = ", ".join("?" for _ in names)
            self._db.executemany(
                f'INSERT INTO "{table.name}" VALUES ({placeholders})',
                [
                    [_stored(row.get(n, ""), c.type) for n, c in zip(names, columns, strict=True)]
                    for row in rows
                ],
            )


def _stored(value: str, column_type: str) -> str | None:
    # osquery leaves an unset typed column empty; SQLite keeps "" as text in an INTEGER column,
    # which would compare oddly, so store NULL and hand it back as "" like osquery does.
    if value == "" and column_type != "TEXT":
        return None
    return value


def _as_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _osquery_message(exc: sqlite3.Error) -> str:
    text = str(exc)
    if text.startswith("no such table"):
        return f"{text} (the table does not exist on this platform or osquery version)"
    return text


def _register_osquery_extensions(db: sqlite3.Connection, errors: list[str]) -> None:
    def version_compare(*args: object) -> int:
        try:
            return versions.version_compare(*args)
        except ValueError as exc:
            errors.append(str(exc))
            raise
        except TypeError:
            errors.append("Must provide two version strings and an operator to compare.")
            raise

    db.create_function("version_compare", -1, version_compare, deterministic=True)
    for name in ("version", "version_arch", "version_dpkg", "version_rhel"):
        epoch, delim, remaining, precedence = versions.collation(name)

        def collate(
            a: str, b: str, *, e: bool = epoch, d: bool = delim, r: bool = remaining, p: bool = precedence
        ) -> int:
            rc = versions.compare(a, b, epoch=e, delim_precedence=d, comp_remaining=r, remainder_precedence=p)
            return (rc > 0) - (rc < 0)

        db.create_collation(name, collate)
    db.create_function("regex_match", 3, _regex_match, deterministic=True)
    db.create_function("split", 3, _split, deterministic=True)


def _regex_match(value: str | None, pattern: str, index: int) -> str | None:
    if value is None:
        return None
    match = re.search(pattern, value)
    if not match:
        return None
    try:
        return match.group(index)
    except IndexError:
        return None


def _split(value: str | None, tokens: str, index: int) -> str | None:
    if value is None:
        return None
    parts = [p for p in re.split("[" + re.escape(tokens) + "]", value) if p]
    return parts[index] if 0 <= index < len(parts) else None
