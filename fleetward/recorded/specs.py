"""Read osquery's table specs (specs/**/*.table) the way osquery's code generator does, without running them.

A spec is a small Python program (`table_name(...)`, `schema([...])`, `extended_schema(LINUX, [...])`)
that osquery's tools/codegen/gentable.py executes once per build platform. This module walks the same
calls with `ast` instead of `exec`, and applies gentable's rules (5.12.0 .. 5.23.1, unchanged):

- `extended_schema(PLATFORMS, columns)` appends the columns on *every* platform, and marks them hidden
  on a platform not in PLATFORMS (gentable.py `extended_schema`: `if not PLATFORM in platforms:
  it.options['hidden'] = True`). So `SELECT setup_mode FROM secureboot` compiles on macOS too.
- Column options: index, additional, required, optimized, hidden, collate (gentable.py COLUMN_OPTIONS).
- Column aliases become hidden columns reading the target's value; table aliases become views
  (osquery/sql/virtual_table.cpp xCreate, `columnAlias` and `CREATE VIEW`).
- WINDOWS is ['windows', 'win32', 'cygwin'], LINUX ['linux'], POSIX ['linux', 'darwin'], DARWIN ['darwin'].

Which tables a platform builds comes from specs/CMakeLists.txt (`platform_independent_spec_files` and
`platform_dependent_spec_files` with `:linux,macos,windows` suffixes, plus the default-on OSQUERY_BUILD_AWS,
OSQUERY_BUILD_DPKG and OSQUERY_BUILD_BPF lists); specs/denylist removes the rest (`example`).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

PLATFORM_LISTS = {
    "WINDOWS": ("windows", "win32", "cygwin"),
    "LINUX": ("linux",),
    "POSIX": ("linux", "darwin"),
    "DARWIN": ("darwin",),
}
TYPES = {"TEXT", "DATE", "DATETIME", "INTEGER", "BIGINT", "UNSIGNED_BIGINT", "DOUBLE", "BLOB"}
OPTIONS = ("index", "additional", "required", "optimized", "hidden")
# CMake platform names (specs/CMakeLists.txt) -> osquery platform families.
CMAKE_PLATFORMS = {"linux": "linux", "macos": "darwin", "windows": "windows"}
ALL_PLATFORMS = ("darwin", "linux", "windows")


class SpecError(ValueError):
    """A spec file uses a construct this reader does not know; the message names file and line."""


@dataclass
class SpecColumn:
    name: str
    type: str
    options: dict[str, object] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    # None: from schema(), on every platform; else the extended_schema platforms.
    extended: tuple[str, ...] | None = None


@dataclass
class SpecTable:
    name: str
    aliases: tuple[str, ...] = ()
    columns: list[SpecColumn] = field(default_factory=list)
    attributes: dict[str, object] = field(default_factory=dict)


def parse_spec(text: str, path: str = "<spec>") -> SpecTable:
    tree = ast.parse(text, filename=path)
    table: SpecTable | None = None
    for statement in tree.body:
        if not isinstance(statement, ast.Expr) or not isinstance(statement.value, ast.Call):
            continue
        call = statement.value
        name = call.func.id if isinstance(call.func, ast.Name) else ""
        if name == "table_name":
            aliases = _keyword(call, "aliases", path)
            table = SpecTable(name=str(_literal(call.args[0], path)), aliases=tuple(aliases or ()))  # type: ignore[arg-type]
        elif name in ("schema", "extended_schema"):
            if table is None:
                raise SpecError(f"{path}:{call.lineno}: {name}() before table_name()")
            if name == "schema":
                table.columns = _columns(call.args[0], path, None)
            else:
                platforms = tuple(_platforms(call.args[0], path))
                table.columns.extend(_columns(call.args[1], path, platforms))
        elif name == "attributes" and table is not None:
            table.attributes.update({k.arg: _literal(k.value, path) for k in call.keywords if k.arg})
    if table is None:
        raise SpecError(f"{path}: no table_name()")
    return table


def _columns(node: ast.expr, path: str, extended: tuple[str, ...] | None) -> list[SpecColumn]:
    if not isinstance(node, ast.List):
        raise SpecError(f"{path}:{node.lineno}: expected a list of Column(...)")
    out = []
    for item in node.elts:
        if not isinstance(item, ast.Call) or not isinstance(item.func, ast.Name):
            raise SpecError(f"{path}:{item.lineno}: expected Column(...)")
        if item.func.id == "ForeignKey":
            continue
        if item.func.id != "Column":
            raise SpecError(f"{path}:{item.lineno}: unknown {item.func.id}(...) in a schema")
        name = str(_literal(item.args[0], path))
        type_node = item.args[1]
        if not isinstance(type_node, ast.Name) or type_node.id not in TYPES:
            raise SpecError(f"{path}:{item.lineno}: column {name}: unknown type")
        options: dict[str, object] = {}
        aliases: tuple[str, ...] = ()
        for keyword in item.keywords:
            if keyword.arg in OPTIONS or keyword.arg == "collate":
                options[keyword.arg] = _literal(keyword.value, path)
            elif keyword.arg == "aliases":
                listed = _literal(keyword.value, path)
                aliases = tuple(str(a) for a in listed) if isinstance(listed, list | tuple) else ()
        if extended is not None and not any(p in extended for p in ALL_PLATFORMS):
            raise SpecError(
                f"{path}:{item.lineno}: extended_schema platforms {extended} name no known platform"
            )
        out.append(SpecColumn(name, type_node.id, options, aliases, extended))
    return out


def _platforms(node: ast.expr, path: str) -> list[str]:
    if isinstance(node, ast.Name) and node.id in PLATFORM_LISTS:
        return list(PLATFORM_LISTS[node.id])
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _platforms(node.left, path) + _platforms(node.right, path)
    value = _literal(node, path)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [str(v) for v in value]
    raise SpecError(f"{path}:{node.lineno}: cannot read the extended_schema platform list")


def _keyword(call: ast.Call, name: str, path: str) -> object:
    for keyword in call.keywords:
        if keyword.arg == name:
            return _literal(keyword.value, path)
    return None


def _literal(node: ast.expr, path: str) -> object:
    try:
        return ast.literal_eval(node)
    except ValueError as exc:
        raise SpecError(f"{path}:{node.lineno}: expected a literal value") from exc


def built_specs(cmake: str) -> dict[str, tuple[str, ...]]:
    """Spec file (relative to specs/) -> the platforms a default release build compiles it for."""
    out: dict[str, tuple[str, ...]] = {}
    for block in re.finditer(r"set\((\w+)\s*(.*?)\)", cmake, flags=re.S):
        _add(out, block.group(1), block.group(2))
    for block in re.finditer(r"list\(APPEND (\w+)\s*(.*?)\)", cmake, flags=re.S):
        _add(out, block.group(1), block.group(2))
    return out


def _add(out: dict[str, tuple[str, ...]], variable: str, body: str) -> None:
    if variable not in ("platform_independent_spec_files", "platform_dependent_spec_files"):
        return
    for token in re.findall(r'"?([\w/]+\.table(?::[\w,]+)?)"?', body):
        spec, _, platforms = token.partition(":")
        if platforms:
            families = tuple(CMAKE_PLATFORMS[p] for p in platforms.split(",") if p in CMAKE_PLATFORMS)
        else:
            families = ALL_PLATFORMS
        out[spec] = tuple(sorted(set(out.get(spec, ())) | set(families)))


def denylisted(denylist: str) -> dict[str, tuple[str, ...]]:
    """Table -> platforms it is removed from (specs/denylist; `platform:table` or `table` for all)."""
    out: dict[str, tuple[str, ...]] = {}
    for line in denylist.splitlines():
        item = line.strip()
        if not item or item.startswith("#"):
            continue
        platform, _, name = item.rpartition(":")
        # gentable compares against sys.platform ("win32" on Windows); freebsd is no family of ours.
        family = {"win32": "windows", "darwin": "darwin", "linux": "linux"}.get(platform)
        families = ALL_PLATFORMS if not platform else ((family,) if family else ())
        out[name] = tuple(sorted(set(out.get(name, ())) | set(families)))
    return out
