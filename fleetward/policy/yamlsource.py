"""Read a YAML document and remember where each value was written, so errors can name the line.

PyYAML's composer keeps a start mark on every node; `SourceDocument.line_of(loc)` walks a pydantic
error location (('platforms', 0), ('releases', 2, 'floors', 0, 'released')) down those nodes and
returns the 1-based line of the deepest one that exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from fleetward.errors import Problem


@dataclass(frozen=True)
class SourceDocument:
    path: Path
    data: Any
    root: yaml.Node | None

    def line_of(self, loc: Sequence[int | str]) -> int:
        node = self.root
        if node is None:
            return 1
        line = node.start_mark.line + 1
        for part in loc:
            child = _child(node, part)
            if child is None:
                break
            key_line, node = child
            line = key_line
        return line

    def problems_from(self, exc: ValidationError, prefix: str = "") -> list[Problem]:
        problems = []
        for error in exc.errors():
            loc = tuple(p for p in error["loc"] if isinstance(p, int | str))
            field = ".".join(str(p) for p in loc) or "(document)"
            message = error["msg"]
            if error["type"] == "extra_forbidden":
                message = "unknown field (check the spelling; see docs/policies.md for the format)"
            elif error["type"] == "missing":
                message = "required field is missing"
            problems.append(Problem(str(self.path), self.line_of(loc), f"{prefix}{field}: {message}"))
        return problems


def _child(node: yaml.Node, part: int | str) -> tuple[int, yaml.Node] | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                return key.start_mark.line + 1, value
        return None
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        item = node.value[part]
        return item.start_mark.line + 1, item
    return None


def read_yaml(path: Path) -> tuple[SourceDocument | None, list[Problem]]:
    """The parsed document with its node tree, or a problem naming the line of the syntax error."""
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Problem(str(path), 1, f"cannot read file: {exc}")]
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        message = f"YAML syntax error: {exc.problem or exc}"
        if exc.context and exc.context_mark is not None and exc.context_mark is not mark:
            message += f" ({exc.context} started at line {exc.context_mark.line + 1})"
        return None, [Problem(str(path), line, message)]
    except yaml.YAMLError as exc:
        return None, [Problem(str(path), 1, f"YAML error: {exc}")]
    except ValueError as exc:  # a well-formed scalar PyYAML cannot build, e.g. the date 2026-02-30
        return None, [Problem(str(path), _line_of_bad_scalar(root), f"invalid value: {exc}")]
    return SourceDocument(path=path, data=data, root=root), []


def _line_of_bad_scalar(node: yaml.Node | None) -> int:
    """The line of the first scalar PyYAML fails to construct (1 when none can be found)."""
    if node is None:
        return 1
    if isinstance(node, yaml.ScalarNode):
        try:
            yaml.SafeLoader("").construct_object(node, deep=True)
        except ValueError:
            return node.start_mark.line + 1
        return 0
    children = node.value if isinstance(node, yaml.SequenceNode) else []
    if isinstance(node, yaml.MappingNode):
        children = [n for pair in node.value for n in pair]
    for child in children:
        line = _line_of_bad_scalar(child)
        if line:
            return line
    return 1 if node.start_mark.line == 0 else 0
