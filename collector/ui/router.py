"""The dashboard's routes under /ui: sign-in, overview, framework, policy and device views, downloads.

Every page is built from the same `build_report` as the downloadable reports, at the collector's
clock, so the numbers on screen are the numbers in the JSON report. No page is readable without
a session (see `collector.ui.session`); pages are server-rendered with no script at all.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from collector.api.deps import AppContext, Context
from collector.domain.fleet import FleetHistory
from collector.domain.state import AuditStatus
from collector.reports.api import generate, load_fleet_history
from collector.reports.build import build_report
from collector.reports.model import ComplianceReport
from collector.reports.sources import describe_database
from collector.ui import session as sessions
from collector.ui.instants import Shown, parse_shown
from collector.ui.timeline import device_timeline
from fleetward.policy.model import Platform

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
        return sessions.viewer_of(db, request.cookies.get(sessions.SESSION_COOKIE), ctx.clock.now())


def _to_sign_in() -> RedirectResponse:
    return RedirectResponse("/ui/sign-in", status_code=303, headers=_SECURITY_HEADERS)


def _data(ctx: AppContext, shown: Shown) -> tuple[FleetHistory, ComplianceReport]:
    history = load_fleet_history(ctx)
    now = ctx.clock.now()
    source = describe_database(ctx.settings.database_url_value())
    return history, build_report(
        history, at=shown.at, period=shown.period, framework=None, generated_at=now, source=source
    )


def _shown(request: Request, ctx: AppContext) -> Shown:
    query = request.query_params
    return parse_shown(query.get("at", ""), query.get("from", ""), query.get("to", ""), ctx.clock.now())


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
    with ctx.db.read() as db:
        signed = sessions.sign_in(db, ctx.hasher, token, ctx.clock.now())
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
def sign_out(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
    response = _to_sign_in()
    if sessions.csrf_ok(request.cookies.get(sessions.CSRF_COOKIE), csrf):
        response.delete_cookie(sessions.SESSION_COOKIE, path="/ui")
    return response


@router.get("/")
def overview(
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
    _, report = _data(ctx, shown)
    problems = []
    if platform and platform not in {p.value for p in Platform}:
        problems.append(
            f"Unknown platform {platform!r}: choose one of {', '.join(p.value for p in Platform)}."
        )
    if status and status not in {s.value for s in AuditStatus}:
        problems.append(
            f"Unknown status {status!r}: choose one of {', '.join(s.value for s in AuditStatus)}."
        )
    devices = [
        d
        for d in report.devices
        if (not platform or d.platform.value == platform)
        and (not status or (d.status and d.status.value == status))
        and (not practice or (d.practice or "") == practice)
    ]
    return _page_for(
        "overview.html.j2",
        shown,
        report=report,
        viewer=viewer,
        devices=devices,
        problems=problems,
        filters={"platform": platform, "status": status, "practice": practice},
        practices=sorted({d.practice for d in report.devices if d.practice}),
        platforms=[p.value for p in Platform],
        frameworks=sorted({(c.framework, c.framework_title) for c in report.controls}),
        charts=_charts(report),
        csrf=request.cookies.get(sessions.CSRF_COOKIE, ""),
    )


def _charts(report: ComplianceReport) -> dict[str, Any]:
    from markupsafe import Markup

    from collector.reports.render import charts

    return {
        "trend": Markup(charts.inline_svg(charts.trend_chart(report.trend, "svg"), "trend-")),  # noqa: S704
        "policies": Markup(charts.inline_svg(charts.policy_chart(report.policies, "svg"), "policies-")),  # noqa: S704
    }


@router.get("/frameworks/{framework_id}")
def framework_view(framework_id: str, request: Request, ctx: Context) -> Response:
    viewer = _viewer(request, ctx)
    if viewer is None:
        return _to_sign_in()
    shown = _shown(request, ctx)
    _, report = _data(ctx, shown)
    controls = [c for c in report.controls if c.framework == framework_id]
    if not controls:
        return _page("missing.html.j2", 404, viewer=viewer, what=f"framework {framework_id!r}")
    return _page_for(
        "framework.html.j2",
        shown,
        report=report,
        viewer=viewer,
        controls=controls,
        title=controls[0].framework_title,
        framework_id=framework_id,
    )


@router.get("/policies/{policy_id}")
def policy_view(policy_id: str, request: Request, ctx: Context) -> Response:
    viewer = _viewer(request, ctx)
    if viewer is None:
        return _to_sign_in()
    shown = _shown(request, ctx)
    _, report = _data(ctx, shown)
    policy = next((p for p in report.policies if p.id == policy_id), None)
    if policy is None:
        return _page("missing.html.j2", 404, viewer=viewer, what=f"policy {policy_id!r}")
    pairs = [p for p in report.pairs if p.policy_id == policy_id]
    return _page_for(
        "policy.html.j2",
        shown,
        report=report,
        viewer=viewer,
        policy=policy,
        pairs=pairs,
        hostnames={d.device_id: d.hostname for d in report.devices},
        breaches=[b for b in report.breaches if b.policy_id == policy_id],
    )


@router.get("/practices/{practice}")
def practice_view(practice: str, request: Request, ctx: Context) -> Response:
    viewer = _viewer(request, ctx)
    if viewer is None:
        return _to_sign_in()
    shown = _shown(request, ctx)
    _, report = _data(ctx, shown)
    rollup = next((r for r in report.practices if r.practice == practice), None)
    if rollup is None:
        return _page("missing.html.j2", 404, viewer=viewer, what=f"practice {practice!r}")
    devices = [d for d in report.devices if d.practice == practice]
    ids = {d.device_id for d in devices}
    return _page_for(
        "practice.html.j2",
        shown,
        report=report,
        viewer=viewer,
        rollup=rollup,
        devices=devices,
        breaches=[b for b in report.breaches if b.device_id in ids],
        hostnames={d.device_id: d.hostname for d in devices},
    )


@router.get("/devices/{device_id}")
def device_view(device_id: str, request: Request, ctx: Context) -> Response:
    viewer = _viewer(request, ctx)
    if viewer is None:
        return _to_sign_in()
    shown = _shown(request, ctx)
    history, report = _data(ctx, shown)
    device = next((d for d in report.devices if d.device_id == device_id), None)
    if device is None:
        return _page("missing.html.j2", 404, viewer=viewer, what=f"device {device_id!r}")
    now = shown.instant or ctx.clock.now()
    return _page_for(
        "device.html.j2",
        shown,
        report=report,
        viewer=viewer,
        device=device,
        pairs=[p for p in report.pairs if p.device_id == device_id],
        titles={p.id: p.title for p in report.policies},
        waivers={w.id: w for w in report.waivers},
        timeline=device_timeline(history, device_id, now - timedelta(days=90), now),
    )


@router.get("/download/{fmt}")
def download(
    fmt: str,
    request: Request,
    ctx: Context,
    at: Annotated[datetime | None, Query()] = None,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
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
