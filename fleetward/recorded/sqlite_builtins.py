"""Which of SQLite's own SQL functions osqueryd has: its bundled SQLite, built with its options.

osquery compiles the SQLite amalgamation itself (libraries/cmake/source/sqlite/CMakeLists.txt:
SQLITE_SOUNDEX, SQLITE_ENABLE_DBSTAT_VTAB, ..., but not SQLITE_ENABLE_MATH_FUNCTIONS, FTS, RTREE or
GEOPOLY) at the version its libraries/third_party_libraries_manifest.json names: 3.45.0 in 5.12.0,
3.42.0 from 5.12.1 on (#8295, "Downgrade sqlite to 3.42 to prevent a regression with required
columns"). The embedded engine's SQLite (apsw's) is newer and has more, so a function outside this set
would compile here and be `no such function` on a laptop: the engine refuses it the same way.
Function names and versions from sqlite.org's lang_corefunc, lang_aggfunc, lang_datefunc,
windowfunctions and json1 pages and its release notes.
"""

from __future__ import annotations

SQLITE_3_42 = frozenset(
    {
        # core
        "abs",
        "changes",
        "char",
        "coalesce",
        "format",
        "glob",
        "hex",
        "ifnull",
        "iif",
        "instr",
        "last_insert_rowid",
        "length",
        "like",
        "likelihood",
        "likely",
        "load_extension",
        "lower",
        "ltrim",
        "max",
        "min",
        "nullif",
        "printf",
        "quote",
        "random",
        "randomblob",
        "replace",
        "round",
        "rtrim",
        "sign",
        "soundex",
        "sqlite_compileoption_get",
        "sqlite_compileoption_used",
        "sqlite_source_id",
        "sqlite_version",
        "substr",
        "substring",
        "total_changes",
        "trim",
        "typeof",
        "unhex",
        "unicode",
        "unlikely",
        "upper",
        "zeroblob",
        # date and time
        "date",
        "time",
        "datetime",
        "julianday",
        "strftime",
        "unixepoch",
        "current_date",
        "current_time",
        "current_timestamp",
        # aggregate and window
        "avg",
        "count",
        "group_concat",
        "sum",
        "total",
        "row_number",
        "rank",
        "dense_rank",
        "percent_rank",
        "cume_dist",
        "ntile",
        "lag",
        "lead",
        "first_value",
        "last_value",
        "nth_value",
        # JSON (built in since 3.38)
        "json",
        "json_array",
        "json_array_length",
        "json_error_position",
        "json_extract",
        "->",
        "->>",
        "json_insert",
        "json_object",
        "json_patch",
        "json_remove",
        "json_replace",
        "json_set",
        "json_type",
        "json_valid",
        "json_quote",
        "json_group_array",
        "json_group_object",
    }
)
ADDED = {
    "3.43.0": {"timediff", "octet_length"},
    "3.44.0": {"concat", "concat_ws", "string_agg"},
    "3.45.0": {
        "jsonb",
        "jsonb_array",
        "jsonb_extract",
        "jsonb_group_array",
        "jsonb_group_object",
        "jsonb_insert",
        "jsonb_object",
        "jsonb_patch",
        "jsonb_remove",
        "jsonb_replace",
        "jsonb_set",
    },
    "3.46.0": {"json_pretty"},
    "3.48.0": {"if"},
    "3.50.0": {"unistr", "unistr_quote"},
}


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def builtin_functions(sqlite_version: str) -> frozenset[str]:
    """SQLite's own functions in osquery's build of `sqlite_version`."""
    names = set(SQLITE_3_42)
    for added, functions in ADDED.items():
        if _key(added) <= _key(sqlite_version):
            names |= functions
    return frozenset(names)


_SOUNDEX_CODES = dict(zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "01230120022455012623010202", strict=True))


def soundex(value: object) -> str:
    """SQLite's soundex() (func.c soundexFunc; osquery builds with SQLITE_SOUNDEX, apsw's SQLite does not)."""
    text = (
        value.decode("utf-8", "replace") if isinstance(value, bytes) else "" if value is None else str(value)
    )
    start = next((i for i, c in enumerate(text) if c.isascii() and c.isalpha()), None)
    if start is None:
        return "?000"
    result = text[start].upper()
    previous = _SOUNDEX_CODES[result]
    for char in text[start:]:
        if len(result) == 4:
            break
        code = _SOUNDEX_CODES.get(char.upper(), "0") if char.isascii() else "0"
        if code == "0":
            previous = "0"
        elif code != previous:
            previous = code
            result += code
    return result.ljust(4, "0")
