"""One error-code list: every code the collector can put in an `ErrorBody` is a `fleetward.wire.ErrorCode`.

The collector's source is parsed with `ast`: every argument in a code position of a call that makes an
error body (the `Refused` kinds, `ApiError`, `error_response`, the size limit's raw reply) must be an
`ErrorCode` member, never a bare string, and each kind's default code must be one too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from collector.api.errors import _HTTP_CODES, status_for
from collector.errors import ApiError, Conflict, Forbidden, Invalid, NotFound, Refused, Unauthorized
from fleetward.wire import ErrorCode

ROOT = Path(__file__).resolve().parents[3]
# call name -> index of its positional code argument (None: keyword `code=` only)
CODE_POSITION = {
    "ApiError": 1,
    "error_response": 1,
    "_reply": 2,
    "_error_bytes": 0,
    "Refused": None,
    "Invalid": None,
    "Unauthorized": None,
    "Forbidden": None,
    "Conflict": None,
}


def code_arguments(source: str) -> list[ast.expr]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
        if name not in CODE_POSITION:
            continue
        position = CODE_POSITION[name]
        if position is not None and len(node.args) > position:
            found.append(node.args[position])
        found.extend(k.value for k in node.keywords if k.arg == "code")
    return found


def bare_codes(source: str) -> list[str]:
    """Code arguments written as string literals (they should name an ErrorCode member)."""
    return [ast.unparse(arg) for arg in code_arguments(source) if isinstance(arg, ast.Constant)]


def members_named(source: str) -> set[str]:
    return {
        ast.unparse(arg).removeprefix("ErrorCode.")
        for arg in code_arguments(source)
        if isinstance(arg, ast.Attribute) and ast.unparse(arg.value) == "ErrorCode"
    }


def test_every_emitted_code_is_in_the_list() -> None:
    files = sorted((ROOT / "collector").rglob("*.py"))
    sources = {path: path.read_text(encoding="utf-8") for path in files}
    assert {p: bare_codes(s) for p, s in sources.items() if bare_codes(s)} == {}
    used = set().union(*(members_named(s) for s in sources.values()))
    assert used <= set(ErrorCode.__members__)
    # the codes of the calls this walk sees, plus the HTTP layer's table and the kinds' defaults
    emitted = {ErrorCode[name] for name in used} | set(_HTTP_CODES.values())
    emitted |= {kind.default_code for kind in (Invalid, Unauthorized, Forbidden, NotFound, Conflict)}
    assert emitted == set(ErrorCode), "the list names a code nothing emits, or the walk missed a call"


def test_a_bare_string_code_is_caught() -> None:
    assert bare_codes('raise ApiError(429, "slow_down", "wait")\n') == ["'slow_down'"]
    assert bare_codes('raise Invalid("no", code="made_up")\n') == ["'made_up'"]
    assert bare_codes("raise Invalid('no', code=ErrorCode.BUNDLE_INVALID)\n") == []


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (Invalid("bad"), 422, "invalid_request"),
        (Invalid("bad", code=ErrorCode.BUNDLE_UNSIGNED), 422, "bundle_unsigned"),
        (Unauthorized("who", code=ErrorCode.ENROLL_SECRET_INVALID), 401, "enroll_secret_invalid"),
        (Forbidden("no"), 403, "forbidden"),
        (NotFound("waiver", "wvr_1"), 404, "not_found"),
        (Conflict("old", code=ErrorCode.BUNDLE_NOT_NEWER), 409, "bundle_not_newer"),
        (ApiError(503, ErrorCode.NOT_READY, "later"), 503, "not_ready"),
    ],
)
def test_each_kind_has_one_status(error: Refused, status: int, code: str) -> None:
    assert (status_for(error), error.code.value) == (status, code)
