"""The dashboard's routes under /ui: sign-in, overview, framework, policy and device views, downloads.

Every page is built from the same `build_report` as the downloadable reports, at the collector's
clock, so the numbers on screen are the numbers in the JSON report. No page is readable without
a session (see `collector.ui.session`); pages are server-rendered with no script at all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from typing import Annotated, Any, cast
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from collector.api.deps import AppContext, Context
from collector.domain.fleet import FleetHistory, PolicyRecord
from collector.domain.runs import Run
from collector.domain.state import AuditStatus, active_waiver, worst
from collector.reports.api import generate
from collector.reports.build import _waivers
from collector.reports.model import PolicyView
from collector.reports.sources import describe_database
from collector.reports.timeline import trend_samples
from collector.store.breaches import Breach, breaches
from collector.store.fleet_state import PairStateRow, StateFilter, fleet_pairs
from collector.store.fleet_tallies import device_page
from collector.store.models import Device, StatusRun, Waiver
from collector.store.waivers import as_record
from collector.ui import session as sessions
from collector.ui.dashboard import Dashboard, cached_dashboard
from collector.ui.instants import Shown, parse_shown
from collector.ui.timeline import device_timeline
from fleetward.bounds import Instant, clean_text
from fleetward.policy.model import Platform
from fleetward.policy.verdict import Status

router = APIRouter(prefix="/ui", include_in_schema=False)

_SECURITY_HEADERS = {
    # No script anywhere; inline style only because matplotlib's SVG charts carry style attributes.
    "Content-Security-Policy": "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@cache
def _environment() -> Any:
    from collector.reports.render.html_format import template_environment

    return template_environment("collector.ui")


def _page(template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    html = _environment().get_template(template).render(statuses=list(AuditStatus), **values)
    return HTMLResponse(html, status_code=status_code, headers=_SECURITY_HEADERS)


def _secure(request: Request) -> bool:
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"


def _viewer(request: Request, ctx: AppContext) -> sessions.Viewer | None:
    with ctx.db.read() as db:
        return sessions.viewer_of(
            db, request.cookies.get(sessions.SESSION_COOKIE), ctx.clock.now(), ctx.ui_session_secret
        )


def _to_sign_in() -> RedirectResponse:
    return RedirectResponse("/ui/sign-in", status_code=303, headers=_SECURITY_HEADERS)


PAGE = 100  # rows per page of every list (devices, pairs, breaches)
STATEMENT_TIMEOUT_MS = 120_000  # PostgreSQL: a dashboard query running longer is cancelled


class _Gone(Exception):
    """The client went away while its page was being computed."""


async def _off_loop(request: Request, work: Callable[[dict[str, Any]], Response]) -> Response:
    """Run `work` in a worker thread; if the client disconnects first, cancel the statement its
    session is running (PostgreSQL `cancel`, SQLite `interrupt`) and give up on the page."""
    holder: dict[str, Any] = {}
    task = asyncio.ensure_future(asyncio.to_thread(work, holder))
    while True:
        done, _ = await asyncio.wait({task}, timeout=0.25)
        if done:
            return task.result()
        if await request.is_disconnected():
            cancel = holder.get("cancel")
            if cancel is not None:
                cancel()
            task.add_done_callback(lambda t: t.exception())  # consumed: the statement was cancelled
            return Response(status_code=499)


def _cancellable(session: Session, holder: dict[str, Any]) -> None:
    raw = session.connection().connection.dbapi_connection
    holder["cancel"] = getattr(raw, "cancel", None) or getattr(raw, "interrupt", None)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}"))


def _board(ctx: AppContext, session: Session, shown: Shown) -> Dashboard:
    url = ctx.settings.database_url_value()
    return cached_dashboard(
        session,
        database=url,
        at=shown.at,
        period=shown.period,
        validity=ctx.settings.validity,
        now=ctx.clock.now(),
        source=describe_database(url),
    )


def _cursor(request: Request, name: str) -> tuple[str, ...] | None:
    value = request.query_params.get(name)
    return tuple(value.split("\x1f")) if value else None


def _link(shown: Shown, extra: dict[str, str]) -> str:
    query = dict(parse_qsl(shown.query.lstrip("?")))
    query.update({k: v for k, v in extra.items() if v})
    return "?" + urlencode(query) if query else "?"


def _pager(
    shown: Shown,
    keep: dict[str, str],
    first: tuple[str, ...] | None,
    last: tuple[str, ...] | None,
    more_after: bool,
    more_before: bool,
) -> dict[str, str | None]:
    sep = "\x1f"
    return {
        "next": _link(shown, {**keep, "after": sep.join(last)}) if more_after and last else None,
        "prev": _link(shown, {**keep, "before": sep.join(first)}) if more_before and first else None,
    }


@router.get("")
def root_without_slash() -> Response:
    return RedirectResponse("/ui/", status_code=308)


def _shown(request: Request, ctx: AppContext) -> Shown:
    """The instant or period asked for; "now" is the current minute, so views within a minute
    share one computation (the cache is keyed by instant and data version)."""
    query = request.query_params
    shown = parse_shown(query.get("at", ""), query.get("from", ""), query.get("to", ""), ctx.clock.now())
    if not shown.query and shown.at is not None:
        return replace(shown, at=shown.at.replace(second=0, microsecond=0))
    return shown


def _page_for(template: str, shown: Shown, status_code: int = 200, **values: Any) -> HTMLResponse:
    return _page(template, status_code, shown=shown, q=shown.query, **values)


@router.get("/static/ui.css")
def stylesheet() -> Response:
    css = resources.files("collector.ui").joinpath("static/ui.css").read_text(encoding="utf-8")
    return Response(css, media_type="text/css", headers={"Cache-Control": "max-age=3600"})


@router.get("/sign-in")
def sign_in_form(request: Request, ctx: Context) -> Response:
    if _viewer(request, ctx) is not None:
        return RedirectResponse("/ui/", status_code=303)
    return _sign_in_page(request, None)


def _sign_in_page(request: Request, problem: str | None, status_code: int = 200) -> Response:
    csrf = sessions.new_csrf_token()
    response = _page("sign_in.html.j2", status_code, csrf=csrf, problem=problem, viewer=None)
    response.set_cookie(
        sessions.CSRF_COOKIE, csrf, httponly=True, samesite="strict", secure=_secure(request), path="/ui"
    )
    return response


@router.post("/sign-in")
def sign_in(
    request: Request, ctx: Context, token: Annotated[str, Form()] = "", csrf: Annotated[str, Form()] = ""
) -> Response:
    if not sessions.csrf_ok(request.cookies.get(sessions.CSRF_COOKIE), csrf):
        return _sign_in_page(request, "The form expired or came from another site; sign in again.", 400)
    with ctx.db.write() as db:
        signed = sessions.sign_in(db, ctx.hasher, token, ctx.clock.now(), ctx.ui_session_secret)
    if signed is None:
        return _sign_in_page(
            request, "That token is unknown, revoked, or not an auditor or admin token.", 401
        )
    response = RedirectResponse("/ui/", status_code=303, headers=_SECURITY_HEADERS)
    response.set_cookie(
        sessions.SESSION_COOKIE,
        signed[0],
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path="/ui",
        max_age=int(sessions.SESSION_LIFETIME.total_seconds()),
    )
    return response


@router.post("/sign-out")
def sign_out(request: Request, ctx: Context, csrf: Annotated[str, Form()] = "") -> Response:
    response = _to_sign_in()
    if sessions.csrf_ok(request.cookies.get(sessions.CSRF_COOKIE), csrf):
        with ctx.db.write() as db:  # the session ends here, not only in this browser
            sessions.sign_out(
                db, request.cookies.get(sessions.SESSION_COOKIE), ctx.clock.now(), ctx.ui_session_secret
            )
        response.delete_cookie(sessions.SESSION_COOKIE, path="/ui")
    return response


def _paging(
    request: Request,
    rows: list[Any],
    key: Callable[[Any], tuple[str, ...]],
    shown: Shown,
    keep: dict[str, str],
) -> dict[str, str | None]:
    after, before = _cursor(request, "after"), _cursor(request, "before")
    full = len(rows) >= PAGE
    return _pager(
        shown,
        keep,
        key(rows[0]) if rows else None,
        key(rows[-1]) if rows else None,
        more_after=full or before is not None,
        more_before=after is not None or (before is not None and full),
    )


@router.get("/")
async def overview(
    request: Request,
    ctx: Context,
    platform: Annotated[str, Query()] = "",
    status: Annotated[str, Query()] = "",
    practice: Annotated[str, Query()] = "",
) -> Response:
    viewer = _viewer(request, ctx)
    if viewer is None:
        return _to_sign_in()
    shown = _shown(request, ctx)
    problems = []
    if platform and platform not in {p.value for p in Platform}:
        problems.append(
            f"Unknown platform {platform!r}: choose one of {', '.join(p.value for p in Platform)}."
        )
        platform = ""
    if status and status not in {s.value for s in AuditStatus}:
        problems.append(
            f"Unknown status {status!r}: choose one of {', '.join(s.value for s in AuditStatus)}."
        )
        status = ""
    after, before = _cursor(request, "after"), _cursor(request, "before")

    def work(holder: dict[str, Any]) -> Response:
        with ctx.db.write() as session:
            _cancellable(session, holder)
            board = _board(ctx, session, shown)
            flt = StateFilter(platform=platform or None, practice=practice or None)
            devices = device_page(
                session,
                board.scope.at,
                validity=ctx.settings.validity,
                flt=flt,
                worst=AuditStatus(status) if status else None,
                after=_pair(after),
                before=_pair(before),
                limit=PAGE,
            )
        keep = {"platform": platform, "status": status, "practice": practice}
        return _page_for(
            "overview.html.j2",
            shown,
            report=board,
            viewer=viewer,
            devices=devices,
            pager=_paging(request, devices, lambda d: (d.hostname, d.device_id), shown, keep),
            problems=problems,
            filters=keep,
            practices=sorted(r.practice for r in board.practices if r.practice),
            platforms=[p.value for p in Platform],
            frameworks=board.frameworks,
            charts=_charts(board),
            csrf=request.cookies.get(sessions.CSRF_COOKIE, ""),
            page_size=PAGE,
        )

    return await _off_loop(request, work)


def _pair(cursor: tuple[str, ...] | None) -> tuple[str, str] | None:
    return (cursor[0], cursor[1]) if cursor and len(cursor) == 2 else None


def _triple(cursor: tuple[str, ...] | None) -> tuple[str, str, str] | None:
    return (cursor[0], cursor[1], cursor[2]) if cursor and len(cursor) == 3 else None


def _charts(report: Dashboard) -> dict[str, Any]:
    from markupsafe import Markup

    from collector.reports.render import charts

    rows = cast("list[PolicyView]", report.policies)  # the chart reads id and status counts only
    policies = charts.inline_svg(charts.policy_chart(rows, "svg"), "policies-")
    return {
        "trend": Markup(charts.inline_svg(charts.trend_chart(report.trend, "svg"), "trend-")),  # noqa: S704
        "policies": Markup(policies),  # noqa: S704
    }


@dataclass(frozen=True)
class PairLine:
    """A pair as the policy and device pages show it."""

    device_id: str
    hostname: str
    policy_id: str
    status: AuditStatus
    since: datetime | None
    failing_since: datetime | None
    days_out_of_compliance: float | None
    evidence: list[dict[str, str]]
    error: str | None
    waiver_id: str | None = None


def _line(row: PairStateRow, at: datetime, waiver_id: str | None = None) -> PairLine:
    days = None if row.failing_since is None else round((at - row.failing_since).total_seconds() / 86400, 2)
    keep = row.observed in ("pass", "fail", "error")
    return PairLine(
        device_id=row.device_id,
        hostname=row.hostname,
        policy_id=row.policy_id,
        status=AuditStatus(row.status),
        since=row.since,
        failing_since=row.failing_since,
        days_out_of_compliance=days,
        evidence=[{clean_text(str(k)): clean_text(str(v)) for k, v in r.items()} for r in row.evidence]
        if keep
        else [],
        error=clean_text(row.error) if keep and row.error else None,
        waiver_id=waiver_id,
    )


def _breach_page(request: Request, found: list[Breach]) -> tuple[list[Breach], int, int]:
    pages = max(1, -(-len(found) // PAGE))
    try:
        number = min(max(1, int(request.query_params.get("breaches", "1"))), pages)
    except ValueError:
        number = 1
    return found[(number - 1) * PAGE : number * PAGE], number, pages


def _hostnames(session: Session, ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    query = select(Device.id, Device.hostname).where(Device.id.in_(sorted(ids)))
    return {row[0]: row[1] for row in session.execute(query)}


@router.get("/frameworks/{framework_id}")
async def framework_view(framework_id: str, request: Request, ctx: Context) -> Response:
    viewer = _viewer(request, ctx)
    if viewer is None:
        return _to_sign_in()
    shown = _shown(request, ctx)

    def work(holder: dict[str, Any]) -> Response:
        with ctx.db.write() as session:
            _cancellable(session, holder)
            board = _board(ctx, session, shown)
        controls = [c for c in board.controls if c.framework == framework_id]
        if not controls:
            return _page("missing.html.j2", 404, viewer=viewer, what=f"framework {framework_id!r}")
        return _page_for(
            "framework.html.j2",
            shown,
            report=board,
            viewer=viewer,
            controls=controls,
            title=controls[0].framework_title,
            framework_id=framework_id,
            frameworks=board.frameworks,
        )

    return await _off_loop(request, work)


@router.get("/policies/{policy_id}")
async def policy_view(policy_id: str, request: Request, ctx: Context) -> Response:
    viewer = _viewer(request, ctx)
    if viewer is None:
        return _to_sign_in()
    shown = _shown(request, ctx)
    after, before = _cursor(request, "after"), _cursor(request, "before")

    def work(holder: dict[str, Any]) -> Response:
        with ctx.db.write() as session:
            _cancellable(session, holder)
            board = _board(ctx, session, shown)
            policy = next((p for p in board.policies if p.id == policy_id), None)
            if policy is None:
                return _page("missing.html.j2", 404, viewer=viewer, what=f"policy {policy_id!r}")
            at, validity = board.scope.at, ctx.settings.validity
            flt = StateFilter(policy_id=policy_id)
            rows = fleet_pairs(
                session,
                at,
                validity=validity,
                flt=flt,
                after=_triple(after),
                before=_triple(before),
                limit=PAGE,
                with_evidence=True,
            )
            samples = [i for _, i in trend_samples(board.scope.trend_start, at)]
            found, number, pages = _breach_page(
                request, breaches(session, samples, validity=validity, flt=flt)
            )
            hostnames = _hostnames(session, {b.device_id for b in found} | {r.device_id for r in rows})
        return _page_for(
            "policy.html.j2",
            shown,
            report=board,
            viewer=viewer,
            policy=policy,
            pairs=[_line(r, at) for r in rows],
            pager=_paging(request, rows, lambda r: (r.hostname, r.device_id, r.policy_id), shown, {}),
            hostnames=hostnames,
            breaches=found,
            breach_page=(number, pages),
            frameworks=board.frameworks,
            page_size=PAGE,
        )

    return await _off_loop(request, work)


@router.get("/practices/{practice}")
async def practice_view(practice: str, request: Request, ctx: Context) -> Response:
    viewer = _viewer(request, ctx)
    if viewer is None:
        return _to_sign_in()
    shown = _shown(request, ctx)
    after, before = _cursor(request, "after"), _cursor(request, "before")

    def work(holder: dict[str, Any]) -> Response:
        with ctx.db.write() as session:
            _cancellable(session, holder)
            board = _board(ctx, session, shown)
            rollup = next((r for r in board.practices if r.practice == practice), None)
            if rollup is None:
                return _page("missing.html.j2", 404, viewer=viewer, what=f"practice {practice!r}")
            at, validity = board.scope.at, ctx.settings.validity
            flt = StateFilter(practice=practice)
            devices = device_page(
                session, at, validity=validity, flt=flt, after=_pair(after), before=_pair(before), limit=PAGE
            )
            samples = [i for _, i in trend_samples(board.scope.trend_start, at)]
            found, number, pages = _breach_page(
                request, breaches(session, samples, validity=validity, flt=flt)
            )
            hostnames = _hostnames(session, {b.device_id for b in found})
        return _page_for(
            "practice.html.j2",
            shown,
            report=board,
            viewer=viewer,
            rollup=rollup,
            devices=devices,
            pager=_paging(request, devices, lambda d: (d.hostname, d.device_id), shown, {}),
            breaches=found,
            breach_page=(number, pages),
            hostnames=hostnames,
            frameworks=board.frameworks,
            page_size=PAGE,
        )

    return await _off_loop(request, work)


@router.get("/devices/{device_id}")
async def device_view(device_id: str, request: Request, ctx: Context) -> Response:
    viewer = _viewer(request, ctx)
    if viewer is None:
        return _to_sign_in()
    shown = _shown(request, ctx)

    def work(holder: dict[str, Any]) -> Response:
        with ctx.db.write() as session:
            _cancellable(session, holder)
            board = _board(ctx, session, shown)
            at, validity = board.scope.at, ctx.settings.validity
            device = session.get(Device, device_id)
            rows = (
                fleet_pairs(
                    session,
                    at,
                    validity=validity,
                    flt=StateFilter(device_id=device_id),
                    limit=10_000,
                    with_evidence=True,
                )
                if device is not None
                else []
            )
            if device is None or not rows:
                return _page("missing.html.j2", 404, viewer=viewer, what=f"device {device_id!r}")
            waivers = [
                as_record(w)
                for w in session.scalars(
                    select(Waiver).where(
                        (Waiver.device_id == device_id)
                        | ((Waiver.device_id.is_(None)) & (Waiver.practice == device.practice))
                    )
                )
            ]
            runs = _device_runs(session, device_id)
        now = shown.instant or ctx.clock.now()
        lines = []
        for row in rows:
            waiver = None
            if row.status == AuditStatus.WAIVED:
                waiver = active_waiver(waivers, device_id, device.practice, row.policy_id, at)
            lines.append(_line(row, at, waiver.id if waiver else None))
        seen = [r.last_seen for r in rows if r.last_seen is not None]
        return _page_for(
            "device.html.j2",
            shown,
            report=board,
            viewer=viewer,
            device=device,
            device_status=worst([AuditStatus(r.status) for r in rows]),
            last_seen=max(seen) if seen else None,
            pairs=lines,
            titles={p.id: p.title for p in board.policies},
            waivers={
                w.id: w
                for w in _waivers(
                    FleetHistory(devices=(), policies=(), runs={}, waivers=tuple(waivers)),
                    cast("list[PolicyRecord]", board.policies),  # only their ids are read
                    board.scope,
                    {},
                )
            },
            timeline=device_timeline(runs, now - timedelta(days=90), now),
            frameworks=board.frameworks,
        )

    return await _off_loop(request, work)


def _device_runs(session: Session, device_id: str) -> dict[str, list[Run]]:
    runs: dict[str, list[Run]] = {}
    query = (
        select(
            StatusRun.policy_id,
            StatusRun.status,
            StatusRun.policy_version,
            StatusRun.since,
            StatusRun.last_seen,
        )
        .where(StatusRun.device_id == device_id)
        .order_by(StatusRun.policy_id, StatusRun.since)
    )
    for policy_id, status, version, since, last_seen in session.execute(query):
        runs.setdefault(policy_id, []).append(Run(Status(status), version, since, last_seen))
    return runs


@router.get("/download/{fmt}")
def download(
    fmt: str,
    request: Request,
    ctx: Context,
    at: Annotated[Instant | None, Query()] = None,
    start: Annotated[Instant | None, Query(alias="from")] = None,
    end: Annotated[Instant | None, Query(alias="to")] = None,
) -> Response:
    if _viewer(request, ctx) is None:
        return _to_sign_in()
    if fmt not in ("json", "csv", "html", "pdf"):
        return _page("missing.html.j2", 404, viewer=None, what=f"report format {fmt!r}")
    data, media_type, filename = generate(ctx, fmt, None if start or end else at, start, end, None)
    return Response(
        data,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )
