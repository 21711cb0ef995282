"""osquery's answers as rows of strings: the one place values are coerced.

osqueryd's Thrift API returns every value as a string; `osqueryi --json` does too unless
`--logger_numerics` is set, in which case numbers arrive as JSON numbers. The verdict semantics and
the evidence work on strings, so both paths are brought to `list[dict[str, str]]` here, and an
answer of any other shape is a QueryError (an unexpected shape is an error, never a pass).
"""

from __future__ import annotations

from collections.abc import Mapping

from fleetward.errors import QueryError

Row = dict[str, str]


def rows_from_osquery(raw: object, *, source: str) -> list[Row]:
    """Validate and coerce what osquery answered. `source` names where it came from, for the message."""
    if raw is None:
        return []
    if not isinstance(raw, list | tuple):
        raise QueryError(f"{source} answered {type(raw).__name__}, expected a list of rows")
    rows: list[Row] = []
    for index, row in enumerate(raw):
        if not isinstance(row, Mapping):
            raise QueryError(f"{source} answered a {type(row).__name__} as row {index}, expected a mapping")
        rows.append({_text(key, source, index): _value(value, source, index) for key, value in row.items()})
    return rows


def _text(key: object, source: str, index: int) -> str:
    if isinstance(key, bytes):
        return key.decode("utf-8", errors="replace")
    if isinstance(key, str):
        return key
    raise QueryError(f"{source} answered a non-text column name {key!r} in row {index}")


def _value(value: object, source: str, index: int) -> str:
    if value is None:
        return ""  # osquery's empty value
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    raise QueryError(f"{source} answered {type(value).__name__} {value!r} in row {index}; expected text")
