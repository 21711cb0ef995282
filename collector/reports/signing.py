"""Report signatures: proof of who issued a report, beside the digest and seal that prove integrity.

The collector signs every report it issues with its own Ed25519 key (`ReportKeys`). What is
signed is the report's own fingerprint, so the signature covers every byte an auditor reads:

- JSON: the report digest (the SHA-256 of the canonical content); the signature is the report's
  `signature` member, which the digest leaves out (like `digest` itself).
- CSV, HTML, PDF: the seal (the SHA-256 of the file's bytes, which name the report digest); the
  signature is written in the file as `fleetward-signature:ed25519:<key id>:<128 hex digits>`,
  where the renderer left a placeholder of zeros. The seal is computed with that placeholder in
  place, so to check: read the signature, put the zeros back, check the seal, check the signature.

The signed message is `fleetward-report-signature/v1:<digest|seal>:<hex>`. Anyone can recompute
a digest or a seal; only the holder of the private key can sign one, so a doctored report with a
recomputed digest fails verification against the collector's public key.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from fleetward.bundle.errors import KeyFileError
from fleetward.bundle.keys import PublicKey, SigningKey

if TYPE_CHECKING:
    from collector.reports.model import ComplianceReport

SIGNATURE_PREFIX = b"fleetward-signature:ed25519:"
SIGNATURE_PLACEHOLDER = SIGNATURE_PREFIX + b"0" * 16 + b":" + b"0" * 128
_IN_FILE = re.compile(re.escape(SIGNATURE_PREFIX) + rb"([0-9a-f]{16}):([0-9a-f]{128})")
_MEMBER = re.compile(r"^ed25519:([0-9a-f]{16}):([0-9a-f]{128})$")
Subject = Literal["digest", "seal"]


def signed_message(subject: Subject, fingerprint: str) -> bytes:
    return f"fleetward-report-signature/v1:{subject}:{fingerprint}".encode("ascii")


@dataclass(frozen=True)
class Signature:
    key_id: str
    value: bytes

    def member(self) -> str:
        """The JSON report's `signature` member."""
        return f"ed25519:{self.key_id}:{self.value.hex()}"

    def token(self) -> bytes:
        """What replaces the placeholder in a CSV, HTML or PDF file."""
        return SIGNATURE_PREFIX + f"{self.key_id}:{self.value.hex()}".encode("ascii")

    @classmethod
    def from_member(cls, text: str) -> Signature | None:
        match = _MEMBER.match(text)
        return None if match is None else cls(match.group(1), bytes.fromhex(match.group(2)))


def sign(key: SigningKey, subject: Subject, fingerprint: str) -> Signature:
    return Signature(key.public.key_id, key.sign(signed_message(subject, fingerprint)))


def sign_file(data: bytes, key: SigningKey, seal_hex: str) -> bytes:
    """A sealed CSV, HTML or PDF file with its signature placeholder filled in."""
    if data.count(SIGNATURE_PLACEHOLDER) != 1:
        raise ValueError("a signed file must hold exactly one signature placeholder")
    return data.replace(SIGNATURE_PLACEHOLDER, sign(key, "seal", seal_hex).token())


def read_file_signature(data: bytes) -> tuple[Signature | None, bytes]:
    """The signature written in a file (None if unsigned) and the file with the placeholder back."""
    found = list(_IN_FILE.finditer(data))
    if len(found) != 1 or found[0].group(0) == SIGNATURE_PLACEHOLDER:
        return None, data
    match = found[0]
    blank = data[: match.start()] + SIGNATURE_PLACEHOLDER + data[match.end() :]
    return Signature(match.group(1).decode(), bytes.fromhex(match.group(2).decode())), blank


def check(
    signature: Signature, subject: Subject, fingerprint: str, trusted: Sequence[PublicKey]
) -> PublicKey | None:
    """The trusted key that made this signature, or None."""
    message = signed_message(subject, fingerprint)
    for key in trusted:
        if key.key_id == signature.key_id and key.verify(signature.value, message):
            return key
    return None


RETIRED_SUFFIX = ".retired-"


@dataclass(frozen=True)
class ReportKeys:
    """The collector's signing key and the public keys of the ones it used before (rotation)."""

    current: SigningKey
    retired: tuple[PublicKey, ...] = ()
    path: Path | None = None  # None: an ephemeral key, for tests and a first try-out only

    @property
    def public_keys(self) -> tuple[PublicKey, ...]:
        return (self.current.public, *self.retired)

    @classmethod
    def ephemeral(cls) -> ReportKeys:
        return cls(SigningKey.generate())

    @classmethod
    def load_or_create(cls, path: Path) -> ReportKeys:
        """The key at `path`, generated there (mode 0600) on first start; retired keys beside it."""
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            with contextlib.suppress(KeyFileError):  # another process created it first: read theirs
                SigningKey.generate().write(path)
        current = SigningKey.read(path)
        retired = tuple(
            PublicKey.from_text(old.read_text("ascii"))
            for old in sorted(path.parent.glob(path.name + RETIRED_SUFFIX + "*.pub"))
        )
        return cls(current, retired, path)

    @classmethod
    def rotate(cls, path: Path) -> ReportKeys:
        """Retire the key at `path` and make a new one. Only the old public key is kept (beside it,
        as `<file>.retired-<key id>.pub`), so reports it signed still verify; its private half is
        deleted, so it can sign nothing more."""
        old = SigningKey.read(path).public
        path.with_name(f"{path.name}{RETIRED_SUFFIX}{old.key_id}.pub").write_text(old.text + "\n", "ascii")
        path.unlink()
        return cls.load_or_create(path)


def render_signed(
    report: ComplianceReport,
    fmt: str,
    key: SigningKey,
    render: Callable[[ComplianceReport], bytes] | None = None,
) -> bytes:
    """The report rendered as `fmt` (by `render`, else the format's renderer) and signed with
    `key`: what the collector issues."""
    from collector.reports.render import renderer_for
    from collector.reports.seal import read_seal

    render = render or renderer_for(fmt).render
    if fmt == "json":
        signed = report.model_copy(update={"signature": sign(key, "digest", report.digest).member()})
        return render(signed)
    data = render(report)
    sealed = read_seal(data)
    if sealed is None:
        raise ValueError(f"the {fmt} renderer wrote no seal to sign")
    return sign_file(data, key, sealed[0])
