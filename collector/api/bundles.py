"""Policy bundles over HTTP: admins publish, devices fetch the newest (ETag), auditors list them all.

- `POST /v1/policies/bundle` (admin): the signed bundle document as the body. 201 when stored, 200
  when the very same bundle was already published; 422 `bundle_digest_mismatch`, `bundle_unsigned`,
  `bundle_signature_invalid`, `bundle_invalid`; 409 `bundle_not_newer`.
- `GET /v1/policies/bundle` (device key, auditor or admin): the newest bundle byte for byte, with a
  strong ETag (its SHA-256); `If-None-Match` with that ETag answers 304 with no body. 404 `no_bundle`
  when none was published yet (agents keep the catalogue they were installed with).
- `GET /v1/policies/bundles` (auditor or admin): every bundle, and when each was in force.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError

from collector.api import deps
from collector.api.deps import Admin, Context, Reader
from collector.errors import ApiError
from collector.observability import logger
from collector.store.bundles import PolicyBundle, list_bundles, newest_bundle, publish_bundle
from collector.store.credentials import Principal
from fleetward.bundle.document import Bundle
from fleetward.bundle.errors import BundleError
from fleetward.bundle.keys import PublicKey
from fleetward.wire import ErrorBody, ErrorCode

router = APIRouter(prefix="/v1/policies", tags=["bundles"])
_ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorBody} for code in (401, 403, 404, 409, 413, 422)
}
BUNDLE_MEDIA_TYPE = "application/json"


class BundleInfo(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int
    digest: str = Field(description="SHA-256 of the signed document: the ETag agents revalidate with")
    created_at: AwareDatetime
    published_at: AwareDatetime
    published_by: str
    signer_key_ids: list[str]
    vouched_by: str | None = Field(
        description="The trusted key that verified it here; null when the "
        "collector has no trusted keys configured"
    )
    policy_count: int
    in_force_until: AwareDatetime | None = Field(
        default=None, description="When the next bundle was published; null for the one in force"
    )
    note: str | None = None


def _any_principal(
    request: Request,
    ctx: Context,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(deps._bearer)],
) -> Principal:
    # Devices, auditors and admins may all read the bundle: it is signed, not secret.
    return deps._authenticate(request, ctx, credentials, device=True)


AnyPrincipal = Annotated[Principal, Depends(_any_principal)]


def _info(row: PolicyBundle, *, until: AwareDatetime | None = None, note: str | None = None) -> BundleInfo:
    return BundleInfo(
        version=row.version,
        digest=row.digest,
        created_at=row.created_at,
        published_at=row.published_at,
        published_by=row.published_by,
        signer_key_ids=list(row.signer_key_ids),
        vouched_by=row.vouched_by,
        policy_count=row.policy_count,
        in_force_until=until,
        note=note,
    )


def _trusted_keys(ctx: deps.AppContext) -> list[PublicKey]:
    try:
        return [PublicKey.from_text(text) for text in ctx.settings.trusted_bundle_keys]
    except BundleError as exc:  # settings validate these at startup; kept for a clear message
        raise ApiError(500, ErrorCode.INTERNAL_ERROR, f"FLEETWARD_TRUSTED_BUNDLE_KEYS: {exc}") from exc


@router.post(
    "/bundle",
    response_model=BundleInfo,
    status_code=201,
    responses={**_ERRORS, 200: {"model": BundleInfo, "description": "Already published: nothing changed"}},
    summary="Publish a signed policy bundle (admin)",
)
def post_bundle(body: Bundle, ctx: Context, who: Admin, response: Response) -> BundleInfo:
    try:
        with ctx.db.write() as session:
            published = publish_bundle(
                session, body, _trusted_keys(ctx), now=ctx.clock.now(), by=f"{who.name} ({who.subject})"
            )
            info = _info(published.row, note=published.note)
    except IntegrityError as exc:  # another admin published this version at the same moment
        raise ApiError(
            409,
            ErrorCode.BUNDLE_NOT_NEWER,
            f"bundle {body.version} was published concurrently; list the bundles",
        ) from exc
    if published.already:
        response.status_code = 200
    else:
        logger().info(
            "policy bundle published",
            extra={"version": info.version, "digest": info.digest, "by": who.subject},
        )
    return info


@router.get(
    "/bundle",
    response_class=Response,
    responses={
        **_ERRORS,
        200: {"content": {BUNDLE_MEDIA_TYPE: {}}, "description": "The newest signed bundle"},
        304: {"description": "The bundle named by If-None-Match is still the newest"},
    },
    summary="The newest policy bundle (ETag / If-None-Match)",
)
def get_bundle(
    ctx: Context,
    _who: AnyPrincipal,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    with ctx.db.read() as session:
        row = newest_bundle(session)
        if row is None:
            raise ApiError(
                404,
                ErrorCode.NO_BUNDLE,
                "no policy bundle has been published yet; agents keep the catalogue they were installed with",
            )
        etag, document = f'"{row.digest}"', row.document
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if if_none_match is not None and _matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    return Response(document.encode("utf-8"), media_type=BUNDLE_MEDIA_TYPE, headers=headers)


@router.get(
    "/bundles",
    response_model=list[BundleInfo],
    responses=_ERRORS,
    summary="Every published bundle and when it was in force (auditor or admin)",
)
def get_bundles(ctx: Context, _who: Reader) -> list[BundleInfo]:
    with ctx.db.read() as session:
        rows = list_bundles(session)
        return [
            _info(row, until=rows[i + 1].published_at if i + 1 < len(rows) else None)
            for i, row in enumerate(rows)
        ]


def _matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110: a list of entity tags, or `*`; the weak comparison applies to If-None-Match."""
    candidates = [part.strip() for part in if_none_match.split(",")]
    return "*" in candidates or any(c.removeprefix("W/") == etag for c in candidates)
