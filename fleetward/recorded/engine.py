"""Answer osquery SQL over a recorded device, in SQLite, as osqueryd of the device's release would.

osquery's tables are SQLite virtual tables, and so are these (apsw exposes SQLite's module API):
- the tables and columns are the device's osquery release's, for its platform (fleetward/recorded/schema.py);
  `extended_schema` columns of other platforms and spec-`hidden` columns are declared HIDDEN, so
  `SELECT *` leaves them out and naming them works (osquery/core/tables.cpp columnDefinition);
- a column the recorded row does not set reads NULL, an empty or unparsable number reads NULL, integers
  parse like std::stol with base 0 (osquery/sql/dynamic_table_row.cpp get_column);
- a table with a required column refuses a scan without a usable constraint on one, with osquery's message
  "Table plist was queried without a required column in the WHERE clause" (virtual_table.cpp xBestIndex,
  xFilter); TEXT columns ignore <, <=, >, >= constraints for this (sensibleComparison);
- table aliases are views (`programs_and_features`), column aliases hidden columns;
- every SQL function and collation osquery registers (fleetward/recorded/functions.py, versions.py);
- only what osquery's authorizer allows (osquery/sql/sqlite_util.h kAllowedSQLiteActionCodes).
Results come back as osquery's Thrift API sends them: every value a string, NULL as "", doubles with 15
significant digits and a ".0" when whole (osquery/utils/conversions/castvariant.h).
A table the recording marks as failing raises the recorded error when it is scanned.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, cast

import apsw
import apsw.ext

from fleetward.errors import QueryError
from fleetward.platform import Platform
from fleetward.recorded import extensions, functions, sqlite_builtins
from fleetward.recorded.model import RecordedDevice
from fleetward.recorded.schema import Column, OsquerySchema, Table, load_schema
from fleetward.recorded.versions import COLLATIONS, VersionCompareError, collate

MAX_INDEX_COST = 1_000_000.0  # virtual_table.cpp kMaxIndexCost
_UNSENSIBLE_FOR_TEXT = {
    apsw.SQLITE_INDEX_CONSTRAINT_GT,
    apsw.SQLITE_INDEX_CONSTRAINT_GE,
    apsw.SQLITE_INDEX_CONSTRAINT_LT,
    apsw.SQLITE_INDEX_CONSTRAINT_LE,
}
_ALLOWED_ACTIONS = {
    apsw.SQLITE_READ,
    apsw.SQLITE_SELECT,
    apsw.SQLITE_FUNCTION,
    apsw.SQLITE_RECURSIVE,
    apsw.SQLITE_TRANSACTION,
    apsw.SQLITE_CREATE_VIEW,
    apsw.SQLITE_DROP_VIEW,
    apsw.SQLITE_CREATE_TEMP_VIEW,
    apsw.SQLITE_DROP_TEMP_VIEW,
    apsw.SQLITE_CREATE_TABLE,
    apsw.SQLITE_DROP_TABLE,
    apsw.SQLITE_CREATE_TEMP_TABLE,
    apsw.SQLITE_DROP_TEMP_TABLE,
    apsw.SQLITE_INSERT,
    apsw.SQLITE_UPDATE,
    apsw.SQLITE_DELETE,
}
_ALLOWED_PRAGMAS = {
    "table_info",
    "table_xinfo",
    "function_list",
    "journal_mode",
    "case_sensitive_like",
    "collation_list",
}


class RecordedEngine:
    """One device's tables, as its osquery release declares them, in an in-memory SQLite database."""

    def __init__(
        self,
        device: RecordedDevice,
        schema: OsquerySchema | None = None,
        extension_tables: Sequence[Table] = (),
    ) -> None:
        self.device = device
        self.schema = schema or load_schema(device.osquery_version)
        self._db = apsw.Connection(":memory:")
        self._failing = {name.lower(): message for name, message in device.errors.items()}
        self._register_functions()
        extras = [*extensions.extension_tables(device.extensions), *extension_tables]
        tables = [
            *(t for t in self.schema.tables_for(device.platform) if t.name not in {e.name for e in extras}),
            *(t for t in extras if device.platform.value in t.platforms),
        ]
        for table in tables:
            module = _TableModule(
                table, device.platform, device.rows(table.name), self._failing.get(table.name)
            )
            self._db.create_module(
                table.name,
                cast("apsw.VTModule", module),
                use_bestindex_object=True,
                eponymous_only=True,
                read_only=True,
            )
        for table in tables:
            for alias in table.aliases:
                self._db.execute(f'CREATE VIEW "{alias}" AS SELECT * FROM "{table.name}"')
        self._functions = _osquery_functions(self.schema.sqlite_version)
        self._refused: list[str] = []
        self._db.set_authorizer(self._authorize)

    @property
    def platform(self) -> Platform:
        return self.device.platform

    def query(self, sql: str) -> list[dict[str, str]]:
        """Rows as osquery returns them; QueryError with osquery's message on failure."""
        self._refused.clear()
        try:
            cursor = self._db.execute(sql)
            rows = []
            names: list[str] | None = None
            for row in cursor:
                if names is None:
                    names = [d[0] for d in cursor.get_description()]
                rows.append({n: as_osquery_text(v) for n, v in zip(names, row, strict=True)})
            return rows
        except (functions.OsqueryFunctionError, VersionCompareError, _TableError) as exc:
            raise QueryError(str(exc)) from exc
        except apsw.Error as exc:
            raise QueryError(self._sqlite_error(exc)) from exc

    def columns(self, sql: str) -> list[str]:
        """The result's column names, from preparing the statement without running it."""
        try:
            self._refused.clear()
            names = [d[0] for d in apsw.ext.query_info(self._db, sql).description or ()]
        except apsw.Error as exc:
            raise QueryError(self._sqlite_error(exc)) from exc
        except (functions.OsqueryFunctionError, VersionCompareError) as exc:
            raise QueryError(str(exc)) from exc
        if self._refused:  # query_info ignores the authorizer's verdict on some statements
            raise QueryError(f"no such function: {self._refused[0]}")
        return names

    def _sqlite_error(self, exc: apsw.Error) -> str:
        # A function osqueryd's SQLite lacks reads as it does there; anything else as SQLite says.
        return f"no such function: {self._refused[0]}" if self._refused else _sqlite_message(exc)

    def _authorize(
        self, code: int, arg3: str | None, arg4: str | None, database: str | None, trigger: str | None
    ) -> int:
        if code == apsw.SQLITE_FUNCTION:
            if arg4 is not None and arg4.lower() not in self._functions:
                self._refused.append(arg4)
                return apsw.SQLITE_DENY
            return apsw.SQLITE_OK
        if code in _ALLOWED_ACTIONS:
            return apsw.SQLITE_OK
        if code == apsw.SQLITE_PRAGMA and arg3 is not None and arg3.lower() in _ALLOWED_PRAGMAS:
            return apsw.SQLITE_OK
        return apsw.SQLITE_DENY

    def close(self) -> None:
        self._db.close()

    def _register_functions(self) -> None:
        files = {
            row.get("path", "")
            for row in self.device.rows("file")
            if row.get("type", "regular") not in ("directory", "")
        }
        for name, (count, function) in functions.scalar_functions(
            self.platform.value, files.__contains__
        ).items():
            self._db.create_scalar_function(name, function, count, deterministic=name != "sleep")
        for count in (5, 6):
            self._db.create_scalar_function(
                "community_id_v1", functions.community_id_v1, count, deterministic=True
            )
            self._db.create_scalar_function(
                "community_id_v1_strict", functions.community_id_v1_strict, count, deterministic=True
            )
        self._db.create_aggregate_function("carve", functions.Carve, 1)
        self._db.create_scalar_function("soundex", _soundex, 1, deterministic=True)
        bundled = self.schema.sqlite_version  # what osqueryd's sqlite_version() says

        def sqlite_version(*_: functions.SqlValue) -> str:
            return bundled

        self._db.create_scalar_function("sqlite_version", sqlite_version, 0, deterministic=True)
        for name in COLLATIONS:
            self._db.create_collation(name, _collation(name))


def _collation(name: str) -> Callable[[str, str], int]:
    def compare(left: str, right: str) -> int:
        return collate(name, left, right)

    return compare


def _soundex(*args: functions.SqlValue) -> str:
    return sqlite_builtins.soundex(args[0])


def _osquery_functions(sqlite_version: str) -> frozenset[str]:
    """Every SQL function name osqueryd of this SQLite has: SQLite's own in osquery's build, plus
    the ones osquery registers (sqlite_util.cpp registers each extension set on every connection)."""
    registered = {*functions.scalar_functions("linux", lambda _: False), "community_id_v1", "carve"}
    registered.add("community_id_v1_strict")
    return sqlite_builtins.builtin_functions(sqlite_version) | registered


class _TableError(Exception):
    """A table refused or failed a scan; the message is osquery's."""


class _TableModule:
    """The virtual-table module for one osquery table (eponymous: it exists without CREATE)."""

    def __init__(
        self, table: Table, platform: Platform, rows: list[dict[str, str]], error: str | None
    ) -> None:
        self.table = _VirtualTable(table, platform, rows, error)

    def Connect(
        self, connection: Any, modulename: str, databasename: str, tablename: str, *args: Any
    ) -> tuple[str, Any]:
        return self.table.declaration(), self.table


class _VirtualTable:
    def __init__(
        self, table: Table, platform: Platform, rows: list[dict[str, str]], error: str | None
    ) -> None:
        self.spec = table
        self.platform = platform
        self.columns = table.declared_for(platform)
        self.rows = rows
        self.error = error
        self.plans: dict[int, tuple[str, ...]] = {}

    def declaration(self) -> str:
        parts = []
        for column in self.columns:
            sql_type = "TEXT" if column.alias_of else column.sql_type
            definition = f'"{column.name}" {sql_type}'
            if column.hidden_on(self.platform):
                definition += " HIDDEN"
            if column.collate:
                definition += f" COLLATE {column.collate.upper()}"
            parts.append(definition)
        return f'CREATE TABLE "{self.spec.name}" ({", ".join(parts)})'

    def BestIndexObject(self, index: apsw.IndexInfo) -> bool:
        # virtual_table.cpp xBestIndex, reimplemented: constraints on required, index or additional
        # columns are handed to xFilter; a required column used without one costs the maximum.
        cost = MAX_INDEX_COST
        constrained: list[str] = []
        has_required_constraint = False
        for i in range(index.nConstraint):
            if not index.get_aConstraint_usable(i):
                continue
            number = index.get_aConstraint_iColumn(i)
            if number < 0 or number >= len(self.columns):
                continue
            column = self._target(self.columns[number])
            if column.sql_type == "TEXT" and index.get_aConstraint_op(i) in _UNSENSIBLE_FOR_TEXT:
                cost += 10
                continue
            if column.required:
                has_required_constraint = True
                cost = 1
            elif column.index or column.additional:
                cost = 1
            else:
                continue
            constrained.append(column.name)
            index.set_aConstraintUsage_argvIndex(i, len(constrained))
        used_required = any(
            n < len(self.columns) and self._target(self.columns[n]).required for n in index.colUsed
        )
        if used_required and not has_required_constraint:
            cost = MAX_INDEX_COST
        index.idxNum = len(self.plans)
        self.plans[index.idxNum] = tuple(constrained)
        index.estimatedCost = cost
        return True

    def _target(self, column: Column) -> Column:
        if column.alias_of is None:
            return column
        return next((c for c in self.columns if c.name == column.alias_of), column)

    def Open(self) -> _Cursor:
        return _Cursor(self)

    def Disconnect(self) -> None:
        pass

    Destroy = Disconnect


class _Cursor:
    def __init__(self, table: _VirtualTable) -> None:
        self.table = table
        self.rows: list[dict[str, str]] = []
        self.position = 0

    def Filter(self, indexnum: int, indexname: str | None, constraintargs: tuple[Any, ...]) -> None:
        table = self.table
        constrained = table.plans.get(indexnum, ())
        if table.spec.has_required and not any(
            c.required for c in table.columns if c.name in constrained and c.alias_of is None
        ):
            raise _TableError(
                table.spec.required_message
                or f"Table {table.spec.name} was queried without a required column in the WHERE clause"
            )
        if table.error is not None:
            raise _TableError(table.error)
        self.rows = table.rows
        self.position = 0

    def Eof(self) -> bool:
        return self.position >= len(self.rows)

    def Rowid(self) -> int:
        return self.position

    def Column(self, number: int) -> Any:
        if number < 0:
            return self.position
        column = self.table._target(self.table.columns[number])
        row = self.rows[self.position]
        if column.name not in row:
            return None
        return sqlite_value(row[column.name], column.sql_type, self.table.platform)

    def Next(self) -> None:
        self.position += 1

    def Close(self) -> None:
        pass


_C_INTEGER = re.compile(r"[ \t\n\v\f\r]*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)")
_C_DOUBLE = re.compile(
    r"[ \t\n\v\f\r]*[+-]?((\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|inf(inity)?|nan)\Z", flags=re.IGNORECASE
)


def sqlite_value(text: str, column_type: str, platform: Platform) -> str | int | float | None:
    """A recorded string as osquery hands it to SQLite for a column of `column_type`."""
    if column_type in ("TEXT", "BLOB"):
        return text
    if text == "":
        return None
    if column_type == "DOUBLE":
        return float(text) if _C_DOUBLE.match(text) else None
    number = _c_integer(text)
    if number is None:
        return None
    if column_type == "INTEGER":
        # std::stol: `long` is 32 bits on Windows (out of range -> NULL); elsewhere 64 bits, then
        # sqlite3_result_int keeps the low 32.
        if platform is Platform.WINDOWS and not -(2**31) <= number < 2**31:
            return None
        if not -(2**63) <= number < 2**63:
            return None
        return (number + 2**31) % 2**32 - 2**31
    if not -(2**63) <= number < 2**63:
        return None
    return number


def _c_integer(text: str) -> int | None:
    """The leading integer std::stol(text, nullptr, 0) reads: decimal, 0x hex or 0 octal."""
    match = _C_INTEGER.match(text)
    if match is None:
        return None
    sign, digits = match.groups()
    if digits[:2].lower() == "0x":
        value = int(digits, 16)
    elif digits.startswith("0") and len(digits) > 1:
        value = int(digits, 8)
    else:
        value = int(digits)
    return -value if sign == "-" else value


def as_osquery_text(value: object) -> str:
    """A SQLite result value as osquery's Thrift API sends it (castVariant; NULL is --nullvalue, "")."""
    if value is None:
        return ""
    if isinstance(value, float):
        text = f"{value:.15g}"
        return text if "." in text else text + ".0"
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _sqlite_message(exc: BaseException) -> str:
    text = str(exc)
    # apsw prefixes SQLite's message with the exception class ("SQLError: no such column: x").
    return re.sub(r"^[A-Za-z]+Error: ", "", text)
