"""Canonical JSON and the report digest.

Canonical JSON: UTF-8, object keys sorted, no whitespace (`","` and `":"` separators),
non-ASCII characters as themselves, no NaN or infinity: exactly what
`json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)` produces.
The digest is `sha256:` + the hex SHA-256 of the canonical JSON of the report without its
`digest` and `signature` members (a signature, when present, signs the digest). Members are serialized one at a time so a 1.5-million-pair report never holds
two full copies of itself in memory.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collector.reports.model import ComplianceReport

DIGEST_MEMBER = "digest"
SIGNATURE_MEMBER = "signature"
_NOT_DIGESTED = frozenset({DIGEST_MEMBER, SIGNATURE_MEMBER})
_CHUNK = 20_000
UNSET_DIGEST = "sha256:" + "0" * 64


def canonical_bytes(value: Any) -> bytes:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.encode("utf-8")


def _member_names(report: ComplianceReport) -> list[tuple[str, str]]:
    """(JSON key, attribute name) of every member, in canonical (sorted key) order."""
    fields = type(report).model_fields
    return sorted(((info.alias or name), name) for name, info in fields.items())


Spooled = Mapping[str, Callable[[], Iterable[bytes]]]  # member key -> its value's bytes, written elsewhere


def _member_pieces(
    report: ComplianceReport, *, with_digest: bool, spooled: Spooled | None = None
) -> Iterator[Iterator[bytes]]:
    """Each member as the chunks of its `"key":value` bytes; a `spooled` member's value is read
    from there instead of the report (a streamed report's devices and pairs)."""
    for key, name in _member_names(report):
        if key in _NOT_DIGESTED and not with_digest:
            continue
        if key == SIGNATURE_MEMBER and report.signature is None:
            continue  # an unsigned report has no signature member at all
        if spooled is not None and key in spooled:
            yield _spooled_member(key, spooled[key])
        else:
            yield _member(report, key, name)


def _spooled_member(key: str, value: Callable[[], Iterable[bytes]]) -> Iterator[bytes]:
    yield canonical_bytes(key) + b":"
    yield from value()


def _member(report: ComplianceReport, key: str, name: str) -> Iterator[bytes]:
    value = getattr(report, name)
    yield canonical_bytes(key) + b":"
    if isinstance(value, list) and len(value) > _CHUNK:
        yield from _list_pieces(value)
    else:
        yield canonical_bytes(report.model_dump(mode="json", by_alias=True, include={name})[key])


def _list_pieces(items: list[Any]) -> Iterator[bytes]:
    """A long list (the pairs) serialized a chunk at a time: the same bytes, a fraction of the memory."""
    yield b"["
    for start in range(0, len(items), _CHUNK):
        text = rows_bytes(items[start : start + _CHUNK])
        yield (b"," + text) if start else text
    yield b"]"


def rows_bytes(rows: list[Any]) -> bytes:
    """Rows of one model, as the canonical JSON of a list of them without the brackets."""
    row_type: Any = type(rows[0])
    return canonical_bytes(_adapter(row_type).dump_python(rows, mode="json", by_alias=True))[1:-1]


@functools.cache
def _adapter(row_type: Any) -> Any:
    """One adapter per row type: building one is not free, and a report dumps hundreds of chunks."""
    from pydantic import TypeAdapter

    return TypeAdapter(list[row_type])


def _joined(members: Iterator[Iterator[bytes]]) -> Iterator[bytes]:
    yield b"{"
    for index, member in enumerate(members):
        if index:
            yield b","
        yield from member
    yield b"}"


def report_digest(report: ComplianceReport, spooled: Spooled | None = None) -> str:
    """The digest of a report's body (every member but `digest`)."""
    sha = hashlib.sha256()
    for chunk in _joined(_member_pieces(report, with_digest=False, spooled=spooled)):
        sha.update(chunk)
    return "sha256:" + sha.hexdigest()


def report_json(report: ComplianceReport) -> bytes:
    """The whole report, digest included, as canonical JSON."""
    return b"".join(report_json_pieces(report))


def report_json_pieces(report: ComplianceReport, spooled: Spooled | None = None) -> Iterator[bytes]:
    """The same bytes as `report_json`, a piece at a time."""
    return _joined(_member_pieces(report, with_digest=True, spooled=spooled))


def document_digest(document: Mapping[str, Any]) -> str:
    """The digest of a parsed JSON report (as an auditor's own script would compute it)."""
    body = {key: value for key, value in document.items() if key not in _NOT_DIGESTED}
    return "sha256:" + hashlib.sha256(canonical_bytes(body)).hexdigest()
