"""What laptops call: `POST /v1/enroll` and `POST /v1/reports` (bodies from `fleetward.wire`)."""

from __future__ import annotations

from collections import Counter

from fastapi import APIRouter, Request
from sqlalchemy.exc import IntegrityError

from collector.api.deps import Context, ReportKey
from collector.api.errors import status_for
from collector.api.schemas import EARLIEST
from collector.errors import ApiError, Forbidden, Refused, Unauthorized
from collector.observability import logger
from collector.store.credentials import Principal, Role
from collector.store.enrollment import enroll
from collector.store.group_commit import Answer, Delivery
from fleetward.wire import (
    BatchAck,
    BatchItem,
    EnrollRequest,
    EnrollResponse,
    ErrorBody,
    ErrorCode,
    RefusedResult,
    Report,
    ReportAck,
    ReportBatch,
)

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
def post_enroll(body: EnrollRequest, ctx: Context, request: Request) -> EnrollResponse:
    """Unauthenticated except by the enroll secret itself. The same hardware uuid keeps its device id,
    if the secret is one of the device's practice. Rate-limited per client address and per secret."""
    client = request.client.host if request.client else "unknown"
    ctx.enroll_limiter.take(f"client:{client}")
    ctx.enroll_limiter.take(f"secret:{ctx.hasher.digest(body.enroll_secret)}")
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
    # the key is verified and the rate limit taken in the transaction, with the batch
    (answer,) = await ctx.ingest.ingest_all([Delivery(body, key_digest=key.digest)])
    return _acknowledge(body, answer, ctx, request)


@router.post(
    "/reports/batch",
    response_model=BatchAck,
    responses=_ERRORS,
    summary="Ingest a backlog of the calling device's reports, each answered on its own",
)
async def post_report_batch(body: ReportBatch, ctx: Context, key: ReportKey, request: Request) -> BatchAck:
    """For an agent catching up: up to 64 reports, oldest first, written in one transaction.

    Each report is checked, authenticated and made idempotent exactly as `POST /v1/reports` would
    one alone; `results` gives each one's status and ack or error, in the order sent. A 2xx here
    means every report whose own `status` is 2xx is durably stored; the others are not stored
    and are answered as they would be alone (422 for good, 429 or 409 to retry). A key that is
    unknown or revoked refuses the whole batch (401) and stores nothing.
    """
    items: list[BatchItem | None] = [None] * len(body.reports)
    deliveries: list[tuple[int, Delivery]] = []
    for index, report in enumerate(body.reports):
        try:
            _check(report, ctx)
        except ApiError as exc:
            items[index] = _refused_item(report, exc)
            continue
        deliveries.append((index, Delivery(report, key_digest=key.digest, request=id(body))))
    answers = await ctx.ingest.ingest_all([delivery for _, delivery in deliveries])
    for (index, delivery), answer in zip(deliveries, answers, strict=True):
        try:
            ack = _acknowledge(delivery.report, answer, ctx, request)
        except ApiError as exc:
            if exc.code == ErrorCode.DEVICE_KEY_INVALID:
                raise  # the same key for every report: none of them was stored
            items[index] = _refused_item(delivery.report, exc)
            continue
        items[index] = BatchItem(report_id=delivery.report.report_id, status=200, ack=ack)
    return BatchAck(results=[item for item in items if item is not None])


def _refused_item(report: Report, exc: ApiError) -> BatchItem:
    return BatchItem(
        report_id=report.report_id,
        status=exc.status_code,
        error=ErrorBody(code=exc.code, message=exc.message, detail=exc.detail),
    )


def _acknowledge(report: Report, answer: Answer, ctx: Context, request: Request) -> ReportAck:
    """What one report's ingestion answers, or the refusal it raises (as `ApiError`)."""
    if isinstance(answer, IntegrityError):  # the same report id delivered twice at once, twice over
        raise ApiError(
            409, ErrorCode.CONFLICT, "this report is being ingested concurrently; retry"
        ) from answer
    if isinstance(answer, Unauthorized):
        raise ApiError(
            401, ErrorCode.DEVICE_KEY_INVALID, answer.message, headers={"WWW-Authenticate": "Bearer"}
        ) from answer
    if isinstance(answer, ApiError):  # the rate limit's, with its Retry-After
        raise answer
    if isinstance(answer, Refused):
        raise ApiError(status_for(answer), answer.code, answer.message, answer.detail) from answer
    if isinstance(answer, BaseException):
        raise answer
    request.state.principal = Principal(Role.DEVICE, answer.device_id, answer.device_id)
    outcome = answer.outcome
    if isinstance(outcome, Forbidden):
        raise ApiError(403, outcome.code, outcome.message, outcome.detail)
    if outcome.duplicate:
        ctx.metrics.reports_duplicate.inc()
    else:
        ctx.metrics.reports_ingested.inc()
        ctx.metrics.transitions.inc(outcome.transitions)
    refused = [
        RefusedResult(
            policy_id=pid,
            code=ErrorCode.UNKNOWN_POLICY,
            message=f"no catalogue policy or published bundle defines {pid!r}; publish a bundle that does",
        )
        for pid in outcome.unknown_policies
    ]
    if refused:
        ctx.metrics.results_refused.inc(len(refused))
        logger().warning(
            "results for unknown policies refused",
            extra={"device_id": answer.device_id, "refused": len(refused)},
        )
    return ReportAck(
        report_id=report.report_id,
        duplicate=outcome.duplicate,
        transitions=outcome.transitions,
        refused=refused,
    )


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
