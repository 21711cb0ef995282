"""The collector's report endpoints (auditor or admin token).

    GET /v1/reports/history     the FleetHistory as JSON: `fleetward report --collector URL` builds from it
    GET /v1/reports/{format}    a report (json, csv, html, pdf) at an instant or over a period

Mounted by `collector.app.create_app`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from collector.api.deps import AppContext, Context, Reader
from collector.api.schemas import Instant
from collector.domain.fleet import FleetHistory
from collector.errors import ApiError
from collector.reports.errors import ReportInputError
from collector.reports.history_io import history_to_json
from fleetward.wire import ErrorBody, ErrorCode

router = APIRouter(prefix="/v1/reports", tags=["reports"])
Format = Literal["json", "csv", "html", "pdf"]


def load_fleet_history(ctx: AppContext) -> FleetHistory:
    from collector.store.history import load_history

    with ctx.db.read() as session:
        return load_history(session, validity=ctx.settings.validity)


def generate(
    ctx: AppContext,
    fmt: str,
    at: datetime | None,
    start: datetime | None,
    end: datetime | None,
    framework: str | None,
) -> tuple[bytes, str, str]:
    """(bytes, media type, file name) of a report built from the collector's own store."""
    from collector.reports.build import build_report
    from collector.reports.render import renderer_for
    from collector.reports.sources import describe_database

    if (start is None) != (end is None):
        raise ApiError(422, ErrorCode.INVALID_REQUEST, "give both `from` and `to` for a period report")
    now = ctx.clock.now()
    period = (start, end) if start is not None and end is not None else None
    try:
        report = build_report(
            load_fleet_history(ctx),
            at=None if period else (at or now),
            period=period,
            framework=framework,
            generated_at=now,
            source=describe_database(ctx.settings.database_url_value()),
        )
        renderer = renderer_for(fmt)
    except ReportInputError as exc:
        raise ApiError(422, ErrorCode.INVALID_REQUEST, str(exc)) from exc
    stamp = report.scope.at.strftime("%Y%m%dT%H%M%SZ")
    return renderer.render(report), renderer.media_type, f"fleetward-compliance-{stamp}.{renderer.extension}"


@router.get("/history", summary="The fleet's history, for reports built elsewhere")
def get_history(ctx: Context, _who: Reader) -> Response:
    return Response(history_to_json(load_fleet_history(ctx)), media_type="application/json")


_REPORT_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {
        "description": "The report in the asked format, as a download",
        "content": {"application/json": {}, "text/csv": {}, "text/html": {}, "application/pdf": {}},
    },
    **{code: {"model": ErrorBody} for code in (401, 403, 422)},
}


@router.get("/{fmt}", summary="A compliance report (JSON, CSV, HTML or PDF)", responses=_REPORT_RESPONSES)
def get_report(
    fmt: Format,
    ctx: Context,
    _who: Reader,
    at: Annotated[Instant | None, Query(description="Instant (ISO 8601 with offset); default now")] = None,
    start: Annotated[Instant | None, Query(alias="from", description="Period start (ISO 8601)")] = None,
    end: Annotated[Instant | None, Query(alias="to", description="Period end (ISO 8601)")] = None,
    framework: Annotated[str | None, Query(description="Only this framework's policies")] = None,
) -> Response:
    data, media_type, filename = generate(ctx, fmt, at, start, end, framework)
    return Response(
        data, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )
