"""Ed25519 keys for bundle signing: private keys as PEM files readable by their owner only,
public keys as one line of base64 that can sit in the agent's settings."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from fleetward.bundle.errors import KeyFileError


@dataclass(frozen=True)
class PublicKey:
    """A trusted key: `key_id` names it in signatures so rotation can carry two at once."""

    raw: bytes

    @property
    def key_id(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()[:16]

    @property
    def text(self) -> str:
        return base64.b64encode(self.raw).decode("ascii")

    @classmethod
    def from_text(cls, text: str) -> PublicKey:
        try:
            raw = base64.b64decode(text.strip(), validate=True)
        except ValueError as exc:
            raise KeyFileError(f"public key {text[:12]!r}… is not base64: {exc}") from exc
        if len(raw) != 32:
            raise KeyFileError(f"public key {text[:12]!r}… is {len(raw)} bytes; an Ed25519 public key is 32")
        return cls(raw)

    @classmethod
    def from_argument(cls, value: str) -> PublicKey:
        """A public key given as its base64 text, or as a file holding that text."""
        path = Path(value)
        if len(value) < 200 and path.is_file():
            try:
                return cls.from_text(path.read_text("utf-8"))
            except OSError as exc:
                raise KeyFileError(f"cannot read public key file {path}: {exc.strerror}") from exc
        return cls.from_text(value)

    def verify(self, signature: bytes, message: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.raw).verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class SigningKey:
    private: Ed25519PrivateKey

    @property
    def public(self) -> PublicKey:
        raw = self.private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return PublicKey(raw)

    def sign(self, message: bytes) -> bytes:
        return self.private.sign(message)

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    def write(self, path: Path) -> None:
        """Write the private key as PEM with mode 0600; never overwrite an existing key."""
        pem = self.private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError as exc:
            raise KeyFileError(f"{path} already exists; refusing to overwrite a signing key") from exc
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)

    @classmethod
    def read(cls, path: Path) -> SigningKey:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise KeyFileError(f"cannot read signing key {path}: {exc.strerror}") from exc
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            raise KeyFileError(f"{path} is not an unencrypted PEM private key: {exc}") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyFileError(f"{path} holds a {type(key).__name__}; bundles are signed with Ed25519")
        return cls(key)


def public_key_list(value: object) -> object:
    """A settings value (a list, JSON list or comma-separated text) as validated key texts; raises
    ValueError naming the bad key, so pydantic reports it against the setting."""
    if isinstance(value, str):
        text = value.strip()
        value = (
            json.loads(text) if text.startswith("[") else [p.strip() for p in text.split(",") if p.strip()]
        )
    if not isinstance(value, list | tuple):
        return value
    for item in value:
        try:
            PublicKey.from_text(str(item))
        except KeyFileError as exc:
            raise ValueError(str(exc)) from exc
    return [str(item).strip() for item in value]
