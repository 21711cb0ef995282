"""What admins do over HTTP: API tokens, enroll secrets and waivers (auditors may list waivers)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from collector.api.deps import Admin, Context, Reader
from collector.api.schemas import (
    EnrollSecretCreate,
    EnrollSecretInfo,
    EnrollSecretIssued,
    TokenCreate,
    TokenInfo,
    TokenIssued,
    WaiverCreate,
    WaiverInfo,
)
from collector.api.views import secret_info, token_info, waiver_info
from collector.observability import logger
from collector.store import credentials, waivers
from collector.store.credentials import Role
from collector.store.models import ApiToken, EnrollSecret
from fleetward.wire import ErrorBody

router = APIRouter(prefix="/v1")
_ERRORS: dict[int | str, dict[str, object]] = {code: {"model": ErrorBody} for code in (401, 403, 404, 422)}
Ident = Annotated[str, Path(max_length=40)]


def _actor(who: credentials.Principal) -> str:
    return f"{who.name} ({who.subject})"


@router.post(
    "/admin/tokens",
    status_code=status.HTTP_201_CREATED,
    response_model=TokenIssued,
    responses=_ERRORS,
    tags=["admin"],
)
def create_token(body: TokenCreate, ctx: Context, who: Admin) -> TokenIssued:
    with ctx.db.write() as session:
        issued = credentials.create_api_token(
            session,
            ctx.hasher,
            name=body.name,
            role=Role(body.role),
            now=ctx.clock.now(),
            created_by=_actor(who),
        )
        row = session.get(ApiToken, issued.id)
        assert row is not None
        info = token_info(row)
    logger().info("token created", extra={"token_id": issued.id, "role": body.role, "by": who.subject})
    return TokenIssued(**info.model_dump(), token=issued.secret)


@router.get("/admin/tokens", response_model=list[TokenInfo], responses=_ERRORS, tags=["admin"])
def list_tokens(ctx: Context, _who: Admin) -> list[TokenInfo]:
    with ctx.db.read() as session:
        return [token_info(t) for t in credentials.list_api_tokens(session)]


@router.post("/admin/tokens/{token_id}/revoke", response_model=TokenInfo, responses=_ERRORS, tags=["admin"])
def revoke_token(token_id: Ident, ctx: Context, who: Admin) -> TokenInfo:
    with ctx.db.write() as session:
        info = token_info(
            credentials.revoke_api_token(session, token_id, now=ctx.clock.now(), by=_actor(who))
        )
    ctx.principals.forget_all()
    logger().info("token revoked", extra={"token_id": token_id, "by": who.subject})
    return info


@router.post(
    "/admin/enroll-secrets",
    status_code=status.HTTP_201_CREATED,
    response_model=EnrollSecretIssued,
    responses=_ERRORS,
    tags=["admin"],
)
def create_enroll_secret(body: EnrollSecretCreate, ctx: Context, who: Admin) -> EnrollSecretIssued:
    now = ctx.clock.now()
    with ctx.db.write() as session:
        issued = credentials.create_enroll_secret(
            session,
            ctx.hasher,
            name=body.name,
            practice=body.practice,
            expires_at=now + body.expires_in,
            now=now,
            created_by=_actor(who),
            max_uses=body.max_uses,
        )
        row = session.get(EnrollSecret, issued.id)
        assert row is not None
        info = secret_info(row)
    logger().info("enroll secret created", extra={"secret_id": issued.id, "by": who.subject})
    return EnrollSecretIssued(**info.model_dump(), secret=issued.secret)


@router.get("/admin/enroll-secrets", response_model=list[EnrollSecretInfo], responses=_ERRORS, tags=["admin"])
def list_enroll_secrets(ctx: Context, _who: Admin) -> list[EnrollSecretInfo]:
    with ctx.db.read() as session:
        return [secret_info(s) for s in credentials.list_enroll_secrets(session)]


@router.post(
    "/admin/enroll-secrets/{secret_id}/revoke",
    response_model=EnrollSecretInfo,
    responses=_ERRORS,
    tags=["admin"],
)
def revoke_enroll_secret(secret_id: Ident, ctx: Context, who: Admin) -> EnrollSecretInfo:
    with ctx.db.write() as session:
        info = secret_info(
            credentials.revoke_enroll_secret(session, secret_id, now=ctx.clock.now(), by=_actor(who))
        )
    logger().info("enroll secret revoked", extra={"secret_id": secret_id, "by": who.subject})
    return info


@router.post(
    "/waivers",
    status_code=status.HTTP_201_CREATED,
    response_model=WaiverInfo,
    responses=_ERRORS,
    tags=["waivers"],
)
def grant_waiver(body: WaiverCreate, ctx: Context, who: Admin) -> WaiverInfo:
    """A waiver for one device or for every device of a practice, for one policy, until `expires_at`."""
    with ctx.db.write() as session:
        info = waiver_info(
            waivers.grant_waiver(
                session,
                policy_id=body.policy_id,
                device_id=body.device_id,
                practice=body.practice,
                justification=body.justification,
                owner=body.owner,
                expires_at=body.expires_at,
                now=ctx.clock.now(),
                granted_by=_actor(who),
            )
        )
    logger().info(
        "waiver granted", extra={"waiver_id": info.id, "policy_id": info.policy_id, "by": who.subject}
    )
    return info


@router.get("/waivers", response_model=list[WaiverInfo], responses=_ERRORS, tags=["waivers"])
def get_waivers(
    ctx: Context,
    _who: Reader,
    device_id: Annotated[str | None, Query(max_length=40)] = None,
    practice: Annotated[str | None, Query(max_length=40)] = None,
    policy: Annotated[str | None, Query(max_length=100)] = None,
) -> list[WaiverInfo]:
    """Every waiver ever granted (revoked ones included), oldest first."""
    with ctx.db.read() as session:
        found = waivers.list_waivers(session, device_id=device_id, practice=practice, policy_id=policy)
        return [waiver_info(w) for w in found]


@router.post("/waivers/{waiver_id}/revoke", response_model=WaiverInfo, responses=_ERRORS, tags=["waivers"])
def revoke_waiver(waiver_id: Ident, ctx: Context, who: Admin) -> WaiverInfo:
    with ctx.db.write() as session:
        info = waiver_info(waivers.revoke_waiver(session, waiver_id, now=ctx.clock.now(), by=_actor(who)))
    logger().info("waiver revoked", extra={"waiver_id": waiver_id, "by": who.subject})
    return info
