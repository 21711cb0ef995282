"""Canonical JSON and the report digest.

Canonical JSON: UTF-8, object keys sorted, no whitespace (`","` and `":"` separators),
non-ASCII characters as themselves, no NaN or infinity: exactly what
`json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)` produces.
The digest is `sha256:` + the hex SHA-256 of the canonical JSON of the report without its
`digest` member. Members are serialized one at a time so a 1.5-million-pair report never holds
two full copies of itself in memory.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collector.reports.model import ComplianceReport

DIGEST_MEMBER = "digest"
UNSET_DIGEST = "sha256:" + "0" * 64


def canonical_bytes(value: Any) -> bytes:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.encode("utf-8")


def _member_names(report: ComplianceReport) -> list[tuple[str, str]]:
    """(JSON key, attribute name) of every member, in canonical (sorted key) order."""
    fields = type(report).model_fields
    return sorted(((info.alias or name), name) for name, info in fields.items())


def _member_pieces(report: ComplianceReport, *, with_digest: bool) -> Iterator[bytes]:
    for key, name in _member_names(report):
        if key == DIGEST_MEMBER and not with_digest:
            continue
        value = report.model_dump(mode="json", by_alias=True, include={name})[key]
        yield canonical_bytes(key) + b":" + canonical_bytes(value)


def _joined(pieces: Iterator[bytes]) -> Iterator[bytes]:
    yield b"{"
    for index, piece in enumerate(pieces):
        if index:
            yield b","
        yield piece
    yield b"}"


def report_digest(report: ComplianceReport) -> str:
    """The digest of a report's body (every member but `digest`)."""
    sha = hashlib.sha256()
    for chunk in _joined(_member_pieces(report, with_digest=False)):
        sha.update(chunk)
    return "sha256:" + sha.hexdigest()


def report_json(report: ComplianceReport) -> bytes:
    """The whole report, digest included, as canonical JSON."""
    return b"".join(_joined(_member_pieces(report, with_digest=True)))


def document_digest(document: Mapping[str, Any]) -> str:
    """The digest of a parsed JSON report (as an auditor's own script would compute it)."""
    body = {key: value for key, value in document.items() if key != DIGEST_MEMBER}
    return "sha256:" + hashlib.sha256(canonical_bytes(body)).hexdigest()
