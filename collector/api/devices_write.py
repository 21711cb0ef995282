"""What laptops call: `POST /v1/enroll` and `POST /v1/reports` (bodies from `fleetward.wire`)."""

from __future__ import annotations

from collections import Counter

from fastapi import APIRouter, Request
from sqlalchemy.exc import IntegrityError

from collector.api.deps import Context, ReportKey
from collector.api.schemas import EARLIEST
from collector.errors import ApiError, Forbidden, Unauthorized
from collector.observability import logger
from collector.store.credentials import Principal, Role
from collector.store.enrollment import enroll
from collector.store.group_commit import Delivery
from fleetward.wire import EnrollRequest, EnrollResponse, ErrorBody, ErrorCode, Report, ReportAck

router = APIRouter(prefix="/v1", tags=["devices"])

_ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorBody} for code in (401, 403, 409, 413, 415, 422, 429)
}


@router.post(
    "/enroll",
    response_model=EnrollResponse,
    responses=_ERRORS,
    summary="Exchange an enroll secret for a device key",
)
def post_enroll(body: EnrollRequest, ctx: Context) -> EnrollResponse:
    """Unauthenticated except by the enroll secret itself. The same hardware uuid keeps its device id."""
    now = ctx.clock.now()
    for attempt in range(2):
        try:
            with ctx.db.write() as session:
                enrolled = enroll(session, ctx.hasher, body, now=now)
            break
        except IntegrityError as exc:  # the same hardware enrolling twice at once
            if attempt:
                raise ApiError(
                    409, ErrorCode.CONFLICT, "this device is enrolling concurrently; retry"
                ) from exc
    if enrolled.reenrolled:
        ctx.principals.forget_all()  # the device's previous key was just revoked
    ctx.metrics.enrollments.labels(reenrolled=str(enrolled.reenrolled).lower()).inc()
    logger().info(
        "device enrolled",
        extra={
            "device_id": enrolled.device_id,
            "reenrolled": enrolled.reenrolled,
            "platform": body.host.platform.value,
        },
    )
    return EnrollResponse(
        device_id=enrolled.device_id, device_key=enrolled.device_key, reenrolled=enrolled.reenrolled
    )


@router.post(
    "/reports", response_model=ReportAck, responses=_ERRORS, summary="Ingest one report of the calling device"
)
async def post_report(body: Report, ctx: Context, key: ReportKey, request: Request) -> ReportAck:
    """Idempotent by `report_id`: the same report again returns 200 with `duplicate: true`.

    Reports are placed by `observed_at`, so they may arrive in any order. The answer comes once
    the report is committed, with the other reports arriving at the same time (group commit).
    """
    _check(body, ctx)
    try:  # the key is verified and the rate limit taken in the transaction, with the batch
        accepted = await ctx.ingest.ingest(Delivery(body, key_digest=key.digest))
    except IntegrityError as exc:  # the same report id delivered twice at once, twice over
        raise ApiError(409, ErrorCode.CONFLICT, "this report is being ingested concurrently; retry") from exc
    except Unauthorized as exc:
        raise ApiError(
            401, ErrorCode.DEVICE_KEY_INVALID, exc.message, headers={"WWW-Authenticate": "Bearer"}
        ) from exc
    request.state.principal = Principal(Role.DEVICE, accepted.device_id, accepted.device_id)
    outcome = accepted.outcome
    if isinstance(outcome, Forbidden):
        raise outcome
    if outcome.duplicate:
        ctx.metrics.reports_duplicate.inc()
    else:
        ctx.metrics.reports_ingested.inc()
        ctx.metrics.transitions.inc(outcome.transitions)
    return ReportAck(report_id=body.report_id, duplicate=outcome.duplicate, transitions=outcome.transitions)


def _check(report: Report, ctx: Context) -> None:
    repeated = sorted(pid for pid, n in Counter(r.policy_id for r in report.results).items() if n > 1)
    if repeated:
        raise ApiError(
            422,
            ErrorCode.INVALID_REQUEST,
            f"the report lists policy {repeated[0]!r} more than once; send one result per policy",
            {"policy_ids": repeated},
        )
    if report.observed_at < EARLIEST:
        raise ApiError(
            422,
            ErrorCode.INVALID_REQUEST,
            f"observed_at is before {EARLIEST.year}; check the device's clock (NTP)",
            {"observed_at": report.observed_at.isoformat()},
        )
    latest = ctx.clock.now() + ctx.settings.max_clock_skew
    if report.observed_at > latest:
        raise ApiError(
            422,
            ErrorCode.INVALID_REQUEST,
            "observed_at is in the future by the collector's clock; check the device's clock (NTP)",
            {"observed_at": report.observed_at.isoformat(), "collector_now": ctx.clock.now().isoformat()},
        )
