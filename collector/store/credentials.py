"""API tokens, device keys and enroll secrets: high entropy, shown once, stored only as digests.

A credential is `<prefix>_<43 url-safe chars>` (256 bits). At rest it is SHA-256, or HMAC-SHA256
with the server's pepper when one is configured, so a copy of the database cannot authenticate.
Lookup is by digest; the final comparison is constant-time anyway.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from collector.errors import Invalid, NotFound, Unauthorized
from collector.store.ids import ids_of
from collector.store.models import ApiToken, DeviceKey, EnrollSecret
from fleetward.wire import ErrorCode

TOKEN_PREFIX = "fwt"
DEVICE_KEY_PREFIX = "fwd"
ENROLL_SECRET_PREFIX = "fwe"


class Role(StrEnum):
    DEVICE = "device"
    AUDITOR = "auditor"
    ADMIN = "admin"


class Hasher:
    def __init__(self, pepper: bytes | None = None) -> None:
        self._pepper = pepper

    def digest(self, credential: str) -> str:
        data = credential.encode("utf-8")
        if self._pepper:
            return hmac.new(self._pepper, data, hashlib.sha256).hexdigest()
        return hashlib.sha256(data).hexdigest()

    def matches(self, credential: str, digest: str) -> bool:
        return hmac.compare_digest(self.digest(credential), digest)


def new_credential(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def new_id(session: Session, prefix: str) -> str:
    return f"{prefix}_{ids_of(session).uuid().hex[:20]}"


@dataclass(frozen=True)
class Principal:
    """Who is calling: an API token (auditor/admin) or a device key."""

    role: Role
    subject: str  # token id or device id: safe to log, never the credential itself
    name: str

    def can_read(self) -> bool:
        return self.role in (Role.AUDITOR, Role.ADMIN)


@dataclass(frozen=True)
class Issued:
    """A credential just created. `secret` is shown once and never stored."""

    id: str
    secret: str


# --- API tokens -------------------------------------------------------------------------------


def create_api_token(
    session: Session, hasher: Hasher, *, name: str, role: Role, now: datetime, created_by: str
) -> Issued:
    if role is Role.DEVICE:
        raise Invalid(
            "device credentials come from enrollment, not from tokens",
            detail={"role": role.value, "hint": "use role auditor or admin"},
        )
    secret = new_credential(TOKEN_PREFIX)
    row = ApiToken(
        id=new_id(session, "tok"),
        name=name,
        role=role.value,
        digest=hasher.digest(secret),
        created_at=now,
        created_by=created_by,
    )
    session.add(row)
    session.flush()
    return Issued(row.id, secret)


def register_api_token(
    session: Session, hasher: Hasher, *, secret: str, name: str, role: Role, now: datetime
) -> None:
    """Make sure a token given out of band (bootstrap) exists; idempotent."""
    digest = hasher.digest(secret)
    if session.scalar(select(ApiToken.id).where(ApiToken.digest == digest)) is None:
        session.add(
            ApiToken(
                id=new_id(session, "tok"),
                name=name,
                role=role.value,
                digest=digest,
                created_at=now,
                created_by="bootstrap",
            )
        )


def list_api_tokens(session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.created_at, ApiToken.id)))


def revoke_api_token(session: Session, token_id: str, *, now: datetime, by: str) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound("token", token_id)
    if row.revoked_at is None:
        row.revoked_at, row.revoked_by = now, by
    return row


# --- enroll secrets ---------------------------------------------------------------------------


def create_enroll_secret(
    session: Session,
    hasher: Hasher,
    *,
    name: str,
    practice: str | None,
    expires_at: datetime,
    now: datetime,
    created_by: str,
) -> Issued:
    if expires_at <= now:
        raise Invalid(
            "an enroll secret must expire in the future", detail={"expires_at": expires_at.isoformat()}
        )
    secret = new_credential(ENROLL_SECRET_PREFIX)
    row = EnrollSecret(
        id=new_id(session, "sec"),
        name=name,
        digest=hasher.digest(secret),
        practice=practice,
        created_at=now,
        created_by=created_by,
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    return Issued(row.id, secret)


def list_enroll_secrets(session: Session) -> list[EnrollSecret]:
    return list(session.scalars(select(EnrollSecret).order_by(EnrollSecret.created_at, EnrollSecret.id)))


def revoke_enroll_secret(session: Session, secret_id: str, *, now: datetime, by: str) -> EnrollSecret:
    row = session.get(EnrollSecret, secret_id)
    if row is None:
        raise NotFound("enroll secret", secret_id)
    if row.revoked_at is None:
        row.revoked_at, row.revoked_by = now, by
    return row


def usable_enroll_secret(session: Session, hasher: Hasher, secret: str, now: datetime) -> EnrollSecret:
    row = session.scalar(select(EnrollSecret).where(EnrollSecret.digest == hasher.digest(secret)))
    if row is None or not hasher.matches(secret, row.digest):
        raise Unauthorized(
            "the enroll secret is not known to this collector", code=ErrorCode.ENROLL_SECRET_INVALID
        )
    if row.revoked_at is not None:
        raise Unauthorized(
            "the enroll secret was revoked; ask an administrator for a new one",
            code=ErrorCode.ENROLL_SECRET_INVALID,
        )
    if row.expires_at <= now:
        raise Unauthorized(
            "the enroll secret has expired; ask an administrator for a new one",
            code=ErrorCode.ENROLL_SECRET_INVALID,
        )
    return row


# --- bearer resolution ------------------------------------------------------------------------


def resolve_bearer(session: Session, hasher: Hasher, credential: str) -> Principal | None:
    """The principal a bearer credential stands for, or None when unknown or revoked."""
    digest = hasher.digest(credential)
    if credential.startswith(DEVICE_KEY_PREFIX + "_"):
        key = session.scalar(select(DeviceKey).where(DeviceKey.digest == digest))
        if key is None or key.revoked_at is not None or not hmac.compare_digest(key.digest, digest):
            return None
        return Principal(Role.DEVICE, key.device_id, key.device_id)
    token = session.scalar(select(ApiToken).where(ApiToken.digest == digest))
    if token is None or token.revoked_at is not None or not hmac.compare_digest(token.digest, digest):
        return None
    return Principal(Role(token.role), token.id, token.name)


def devices_by_key_digest(session: Session, digests: Iterable[str]) -> dict[str, str]:
    """The device each of these device-key digests belongs to, for keys not revoked (one query)."""
    rows = session.execute(
        select(DeviceKey.digest, DeviceKey.device_id).where(
            DeviceKey.digest.in_(sorted(set(digests))), DeviceKey.revoked_at.is_(None)
        )
    )
    return {str(digest): str(device_id) for digest, device_id in rows}
