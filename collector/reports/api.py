"""The collector's report endpoints (auditor or admin token).

    GET /v1/reports/history     the FleetHistory as JSON: `fleetward report --collector URL` builds from it
    GET /v1/reports/{format}    a report (json, csv, html, pdf) at an instant or over a period,
                                streamed from the store (collector.reports.stream): memory per
                                request is a page of devices; a client that goes away stops it

Both take `as_known_at`: only what the collector had received by then (a report issued then,
reproduced exactly; docs/auditors.md "Reproducing a report").

Mounted by `collector.app.create_app`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from collector.api.deps import AppContext, Context, Reader
from collector.api.schemas import Instant
from collector.domain.fleet import FleetHistory
from collector.errors import ApiError
from collector.reports.errors import ReportInputError
from collector.reports.history_io import history_to_json
from fleetward.wire import ErrorBody, ErrorCode

router = APIRouter(prefix="/v1/reports", tags=["reports"])
Format = Literal["json", "csv", "html", "pdf"]


def load_fleet_history(ctx: AppContext, known_at: datetime | None = None) -> FleetHistory:
    from collector.store.history import load_history

    with ctx.db.read() as session:
        return load_history(session, validity=ctx.settings.validity, known_at=known_at)


def _checked_known_at(ctx: AppContext, known_at: datetime | None) -> datetime | None:
    from collector.reports.build import check_known_at

    try:
        return check_known_at(known_at, ctx.clock.now(), "as_known_at")
    except ReportInputError as exc:
        raise ApiError(422, ErrorCode.INVALID_REQUEST, str(exc)) from exc


def generate(
    ctx: AppContext,
    fmt: str,
    at: datetime | None,
    start: datetime | None,
    end: datetime | None,
    framework: str | None,
    known_at: datetime | None = None,
) -> tuple[bytes, str, str]:
    """(bytes, media type, file name) of a report built from the collector's own store."""
    chunks, media_type, filename = open_report(ctx, fmt, at, start, end, framework, known_at)
    return b"".join(chunks), media_type, filename


def open_report(
    ctx: AppContext,
    fmt: str,
    at: datetime | None,
    start: datetime | None,
    end: datetime | None,
    framework: str | None,
    known_at: datetime | None = None,
) -> tuple[Iterator[bytes], str, str]:
    """(chunks, media type, file name) of a signed report streamed from the store.

    The read session stays open while the chunks are consumed and is closed when they end or
    the iterator is closed (a client gone away). The first page is computed here, so a bad
    request fails with 422 before any byte is sent. A report as known at an earlier instant is
    built whole from `load_history(known_at=...)` (not streamed yet)."""
    from sqlalchemy import func, select

    from collector.reports.render import renderer_for
    from collector.reports.sources import describe_database
    from collector.reports.stream import ReportRequest, stream_report
    from collector.store.models import Device
    from collector.store.report_rows import device_pages, report_context

    if (start is None) != (end is None):
        raise ApiError(422, ErrorCode.INVALID_REQUEST, "give both `from` and `to` for a period report")
    known_at = _checked_known_at(ctx, known_at)
    if known_at is not None:
        return _as_known(ctx, fmt, at, start, end, framework, known_at)
    now = ctx.clock.now()
    period = (start, end) if start is not None and end is not None else None
    stack = ExitStack()
    try:
        renderer = renderer_for(fmt)
        session = stack.enter_context(ctx.db.read())
        validity = ctx.settings.validity
        request = ReportRequest(
            context=report_context(session, validity=validity),
            at=None if period else (at or now),
            period=period,
            framework=framework,
            generated_at=now,
            source=describe_database(ctx.settings.database_url_value()),
            key=ctx.report_keys.current,
            devices=session.execute(select(func.count()).select_from(Device)).scalar_one(),
        )
        chunks = stream_report(fmt, request, device_pages(session, validity=validity))
        first = next(chunks)
    except ReportInputError as exc:
        stack.close()
        raise ApiError(422, ErrorCode.INVALID_REQUEST, str(exc)) from exc
    except BaseException:
        stack.close()
        raise
    at_instant = request.at or end or now
    stamp = at_instant.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return (
        _closing(first, chunks, stack),
        renderer.media_type,
        f"fleetward-compliance-{stamp}.{renderer.extension}",
    )


def _as_known(
    ctx: AppContext,
    fmt: str,
    at: datetime | None,
    start: datetime | None,
    end: datetime | None,
    framework: str | None,
    known_at: datetime,
) -> tuple[Iterator[bytes], str, str]:
    from collector.reports.build import build_report
    from collector.reports.render import renderer_for
    from collector.reports.signing import render_signed
    from collector.reports.sources import describe_database

    now = known_at  # a report as known at K is the one issued at K
    period = (start, end) if start is not None and end is not None else None
    try:
        report = build_report(
            load_fleet_history(ctx, known_at),
            at=None if period else (at or now),
            period=period,
            framework=framework,
            generated_at=now,
            source=describe_database(ctx.settings.database_url_value()),
            known_at=known_at,
        )
        renderer = renderer_for(fmt)
    except ReportInputError as exc:
        raise ApiError(422, ErrorCode.INVALID_REQUEST, str(exc)) from exc
    stamp = report.scope.at.strftime("%Y%m%dT%H%M%SZ")
    data = render_signed(report, fmt, ctx.report_keys.current)
    return iter([data]), renderer.media_type, f"fleetward-compliance-{stamp}.{renderer.extension}"


def _closing(first: bytes, chunks: Generator[bytes, None, None], stack: ExitStack) -> Iterator[bytes]:
    try:
        yield first
        yield from chunks
    finally:
        chunks.close()
        stack.close()


async def _cancellable(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """The chunks, each computed in a worker thread; when the client goes away the response is
    cancelled and the generator closed (in a shielded scope), which ends the read session."""
    import anyio

    done = object()
    try:
        while (chunk := await anyio.to_thread.run_sync(next, chunks, done)) is not done:
            yield chunk  # type: ignore[misc]
    finally:
        with anyio.CancelScope(shield=True):
            close = getattr(chunks, "close", None)
            if close is not None:
                await anyio.to_thread.run_sync(close)


class ReportKey(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key_id: str = Field(description="Names the key in signatures: `ed25519:<key id>:<hex>`")
    public_key: str = Field(description="The Ed25519 public key, base64 (what `report verify --key` takes)")
    current: bool = Field(description="True for the key signing reports now; false for retired keys")


class ReportKeySet(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    keys: list[ReportKey]


def report_key_set(ctx: AppContext) -> ReportKeySet:
    current = ctx.report_keys.current.public
    return ReportKeySet(
        keys=[
            ReportKey(key_id=k.key_id, public_key=k.text, current=k == current)
            for k in ctx.report_keys.public_keys
        ]
    )


well_known = APIRouter(tags=["reports"])


@well_known.get(
    "/.well-known/fleetward-report-keys",
    response_model=ReportKeySet,
    summary="The public keys that verify this collector's reports (no authentication: they are public)",
)
def get_report_keys(ctx: Context) -> ReportKeySet:
    return report_key_set(ctx)


@router.get("/history", summary="The fleet's history, for reports built elsewhere")
def get_history(
    ctx: Context,
    _who: Reader,
    as_known_at: Annotated[
        Instant | None, Query(description="Only what the collector had received by this instant")
    ] = None,
) -> Response:
    history = load_fleet_history(ctx, _checked_known_at(ctx, as_known_at))
    return Response(history_to_json(history), media_type="application/json")


_REPORT_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {
        "description": "The report in the asked format, as a download",
        "content": {"application/json": {}, "text/csv": {}, "text/html": {}, "application/pdf": {}},
    },
    **{code: {"model": ErrorBody} for code in (401, 403, 422)},
}


@router.get(
    "/{fmt}",
    summary="A compliance report (JSON, CSV, HTML or PDF)",
    description="Streamed as it is computed, a page of devices at a time: memory per request stays "
    "bounded whatever the fleet size, and a client that disconnects stops the work. Above 5,000 "
    "devices the HTML and PDF are bounded (summaries and failing detail in full, passing detail "
    "counted); see docs/reference/report-formats.md.",
    responses=_REPORT_RESPONSES,
)
def get_report(
    fmt: Format,
    ctx: Context,
    _who: Reader,
    at: Annotated[Instant | None, Query(description="Instant (ISO 8601 with offset); default now")] = None,
    start: Annotated[Instant | None, Query(alias="from", description="Period start (ISO 8601)")] = None,
    end: Annotated[Instant | None, Query(alias="to", description="Period end (ISO 8601)")] = None,
    framework: Annotated[str | None, Query(description="Only this framework's policies")] = None,
    as_known_at: Annotated[
        Instant | None,
        Query(
            description="Build from only what the collector had received by this instant (not in the "
            "future, not before the report's instant): the report issued then, byte for byte"
        ),
    ] = None,
) -> Response:
    chunks, media_type, filename = open_report(ctx, fmt, at, start, end, framework, as_known_at)
    return StreamingResponse(
        _cancellable(chunks),
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
