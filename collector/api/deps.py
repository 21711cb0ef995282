"""What every route needs: the app's context, and who is calling (bearer authentication)."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from collector.api.limits import RateLimiter
from collector.errors import ApiError
from collector.observability import Metrics
from collector.reports.signing import ReportKeys
from collector.settings import CollectorSettings
from collector.store.credentials import DEVICE_KEY_PREFIX, Hasher, Principal, Role, resolve_bearer
from collector.store.engine import Database
from collector.store.group_commit import GroupCommitter
from collector.store.policies import PolicyRegistry
from fleetward.clock import Clock
from fleetward.wire import ErrorCode


class PrincipalCache:
    """Recently verified credentials, so a laptop's every report does not cost a lookup.

    Per process and short-lived: a revoked token or replaced device key keeps working for at
    most `ttl` seconds in another API process (this process forgets at once, see `forget_all`).
    Only successful lookups are kept; keys are credential digests, never credentials.
    """

    def __init__(self, ttl: float = 5.0, max_entries: int = 100_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[str, tuple[Principal, float]] = {}

    def get(self, digest: str) -> Principal | None:
        found = self._entries.get(digest)
        if found is None or found[1] < time.monotonic():
            return None
        return found[0]

    def put(self, digest: str, principal: Principal) -> None:
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[digest] = (principal, time.monotonic() + self.ttl)

    def forget_all(self) -> None:
        self._entries.clear()


@dataclass
class AppContext:
    settings: CollectorSettings
    db: Database
    clock: Clock
    hasher: Hasher
    registry: PolicyRegistry
    metrics: Metrics
    limiter: RateLimiter
    ingest: GroupCommitter
    enroll_limiter: RateLimiter
    report_keys: ReportKeys = field(default_factory=ReportKeys.ephemeral)
    ui_session_secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    principals: PrincipalCache = field(default_factory=PrincipalCache)


def context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


Context = Annotated[AppContext, Depends(context)]

_bearer = HTTPBearer(auto_error=False, description="An API token (auditor/admin) or a device key")


def _authenticate(
    request: Request, ctx: Context, credentials: HTTPAuthorizationCredentials | None, *, device: bool
) -> Principal:
    if credentials is None or not credentials.credentials:
        raise ApiError(
            401,
            ErrorCode.UNAUTHENTICATED,
            "send `Authorization: Bearer <token>` (a device key, or an API token for people)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    digest = ctx.hasher.digest(credentials.credentials)
    principal = ctx.principals.get(digest)
    if principal is None:
        with ctx.db.read() as session:
            principal = resolve_bearer(session, ctx.hasher, credentials.credentials)
        if principal is not None:
            ctx.principals.put(digest, principal)
    if principal is None:
        if device:
            raise ApiError(
                401,
                ErrorCode.DEVICE_KEY_INVALID,
                "the device key is unknown or revoked; enroll again with the enroll secret",
                headers={"WWW-Authenticate": "Bearer"},
            )
        raise ApiError(
            401,
            ErrorCode.UNAUTHENTICATED,
            "the token is unknown or revoked",
            headers={"WWW-Authenticate": "Bearer"},
        )
    request.state.principal = principal
    return principal


@dataclass(frozen=True)
class DeviceKeyDigest:
    """The digest of the device key presented with a report. It is verified by the transaction that
    writes the report (group commit looks up all of a batch's keys at once), never from the cache
    of verified credentials, so a revoked or replaced key cannot write one more report."""

    digest: str


async def device_key_digest(
    request: Request,
    ctx: Context,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> DeviceKeyDigest:
    if credentials is None or not credentials.credentials.startswith(DEVICE_KEY_PREFIX + "_"):
        # Not a device key: the full check answers the 401, or the 403 naming the token's role.
        await run_in_threadpool(device_principal, request, ctx, credentials)
        raise AssertionError("only a device key passes device_principal")  # pragma: no cover
    return DeviceKeyDigest(ctx.hasher.digest(credentials.credentials))


def device_principal(
    request: Request,
    ctx: Context,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    principal = _authenticate(request, ctx, credentials, device=True)
    if principal.role is not Role.DEVICE:
        raise ApiError(
            403,
            ErrorCode.FORBIDDEN,
            f"only a device key can write reports; this {principal.role.value} token is "
            f"{'read-only' if principal.role is Role.AUDITOR else 'not a device'}",
        )
    return principal


def reader(
    request: Request,
    ctx: Context,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    principal = _authenticate(request, ctx, credentials, device=False)
    if not principal.can_read():
        raise ApiError(
            403,
            ErrorCode.FORBIDDEN,
            "this endpoint needs an auditor or admin token; a device key cannot read",
        )
    return principal


def admin(
    request: Request,
    ctx: Context,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    principal = _authenticate(request, ctx, credentials, device=False)
    if principal.role is not Role.ADMIN:
        raise ApiError(
            403,
            ErrorCode.FORBIDDEN,
            f"this endpoint needs an admin token; yours has role {principal.role.value}",
        )
    return principal


DevicePrincipal = Annotated[Principal, Depends(device_principal)]
ReportKey = Annotated[DeviceKeyDigest, Depends(device_key_digest)]
Reader = Annotated[Principal, Depends(reader)]
Admin = Annotated[Principal, Depends(admin)]
