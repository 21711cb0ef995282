"""The seal: a SHA-256 of a rendered file's own bytes, written into the file.

The renderer writes `fleetward-seal:sha256:` followed by 64 zeros; `seal` hashes the whole file
as written and puts the hash in place of the zeros. To check, put the zeros back and hash again.
A seal shows a file is byte for byte as generated (any changed byte breaks it); it is not a
signature: proof that the content came from the collector is the report digest, checked against
the JSON report or a report regenerated from the source (docs/auditors.md).
"""

from __future__ import annotations

import hashlib
import re

SEAL_PREFIX = b"fleetward-seal:sha256:"
SEAL_PLACEHOLDER = SEAL_PREFIX + b"0" * 64
_SEAL = re.compile(re.escape(SEAL_PREFIX) + rb"([0-9a-f]{64})")


def seal(data: bytes) -> bytes:
    if data.count(SEAL_PLACEHOLDER) != 1:
        raise ValueError("a sealed file must hold exactly one seal placeholder")
    return data.replace(SEAL_PLACEHOLDER, SEAL_PREFIX + hashlib.sha256(data).hexdigest().encode())


def read_seal(data: bytes) -> tuple[str, str] | None:
    """(the seal written in the file, the seal its bytes give), or None when there is no seal."""
    found = list(_SEAL.finditer(data))
    if len(found) != 1:
        return None
    match = found[0]
    blank = data[: match.start()] + SEAL_PLACEHOLDER + data[match.end() :]
    return match.group(1).decode(), hashlib.sha256(blank).hexdigest()
