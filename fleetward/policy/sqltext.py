"""SQL text built by code: typed literals and a CTE put in front of a policy's query.

Baseline values reach osquery as SQL literals. They are rendered here, from typed values only:
integers as integers, text through `quote_text` (quotes doubled, control characters refused),
None as NULL. Nothing else is accepted, so no value can change the shape of the statement.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

SqlValue = int | str | None

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
_LEADING_WITH = re.compile(r"(?is)^\s*with(\s+recursive)?\s+")


def quote_text(value: str) -> str:
    """A SQL string literal. Refuses control characters rather than guessing how to escape them."""
    if not isinstance(value, str):
        raise TypeError(f"expected text, got {type(value).__name__}")
    for char in value:
        if ord(char) < 32 or ord(char) == 127:
            raise ValueError(f"text {value!r} contains a control character; baseline text must be printable")
    return "'" + value.replace("'", "''") + "'"


def literal(value: SqlValue) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):  # bool is an int subclass: say 1 or 0 explicitly instead
        raise TypeError("booleans are not SQL literals here; use 1 or 0")
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, str):
        return quote_text(value)
    raise TypeError(f"cannot render {type(value).__name__} as a SQL literal")


def values_cte(name: str, columns: Sequence[str], rows: Sequence[Sequence[SqlValue]]) -> str:
    """`name(col, ...) AS (VALUES (...), ...)`; an empty table when there are no rows."""
    for identifier in (name, *columns):
        if not _IDENTIFIER.match(identifier):
            raise ValueError(f"{identifier!r} is not a plain SQL identifier")
    for row in rows:
        if len(row) != len(columns):
            raise ValueError(f"row {row!r} has {len(row)} values for {len(columns)} columns")
    header = f"{name}({', '.join(columns)})"
    if not rows:
        nulls = ", ".join("NULL" for _ in columns)
        return f"{header} AS (SELECT {nulls} WHERE 0)"
    body = ",\n    ".join("(" + ", ".join(literal(v) for v in row) + ")" for row in rows)
    return f"{header} AS (VALUES\n    {body})"


def with_cte(cte: str, query: str) -> str:
    """Put `cte` in front of `query`, merging into the query's own WITH clause if it has one."""
    match = _LEADING_WITH.match(query)
    if match is None:
        return f"WITH {cte}\n{query.strip()}"
    recursive = " RECURSIVE" if match.group(1) else ""
    return f"WITH{recursive} {cte},\n{query[match.end() :].strip()}"
