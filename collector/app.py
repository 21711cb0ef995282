"""The collector's composition root: `create_app(settings, clock=...)` wires everything once.

The app does not migrate the database (run `fleetward collector migrate`); it refuses to start
when the schema is not at head, so an old process can never write to a newer schema or the
reverse. At startup it registers the shipped catalogue and the bootstrap admin token and enroll
secret, if any.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from collector.api import admin, bundles, devices_write, fleet, ops
from collector.api.access import AccessMiddleware
from collector.api.deps import AppContext
from collector.api.errors import install_error_handlers
from collector.api.limits import BodyLimitMiddleware, RateLimiter
from collector.api.openapi import install_openapi
from collector.observability import Metrics
from collector.reports import api as reports_api
from collector.settings import CollectorSettings
from collector.store.bootstrap import register_enroll_secret
from collector.store.bundles import register_newest_bundle
from collector.store.credentials import Hasher, Role, register_api_token
from collector.store.engine import Database
from collector.store.group_commit import GroupCommitter
from collector.store.ids import IdSource
from collector.store.migrate import ensure_at_head
from collector.store.policies import PolicyRegistry, load_shipped_catalogue, register_catalogue
from collector.ui import router as ui
from fleetward import __version__
from fleetward.clock import Clock, SystemClock

API_TITLE = "fleetward collector"


def create_app(
    settings: CollectorSettings, *, clock: Clock | None = None, ids: IdSource | None = None
) -> FastAPI:
    """`ids`: where identifiers come from (random unless a reproducible run seeds them)."""
    clock = clock or SystemClock()
    db = Database.from_url(settings.database_url_value(), ids=ids)
    pepper = settings.token_pepper.get_secret_value().encode() if settings.token_pepper else None
    metrics = Metrics()
    registry = PolicyRegistry()
    limiter = RateLimiter(settings.device_rate_per_minute, settings.device_rate_burst, clock.now)
    ctx = AppContext(
        settings=settings,
        db=db,
        clock=clock,
        hasher=Hasher(pepper),
        registry=registry,
        metrics=metrics,
        limiter=limiter,
        ingest=GroupCommitter(db, registry, validity=settings.validity, now=clock.now, admit=limiter.take),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        _start(ctx)
        try:
            yield
        finally:
            ctx.ingest.close()
            db.dispose()

    app = FastAPI(
        title=API_TITLE,
        version=__version__,
        description="Where every laptop reports and the fleet's record is kept. Errors are "
        "`{code, message, detail}` with a stable `code`.",
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    install_error_handlers(app)
    install_openapi(app)
    for router in (
        devices_write.router,
        fleet.router,
        admin.router,
        ops.router,
        reports_api.router,
        ui.router,
    ):
        app.include_router(router)
    app.include_router(bundles.router)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_request_bytes)
    app.add_middleware(AccessMiddleware, metrics=metrics)
    return app


def _start(ctx: AppContext) -> None:
    ensure_at_head(ctx.db.engine)
    now = ctx.clock.now()
    catalogue = load_shipped_catalogue()
    with ctx.db.write() as session:
        register_catalogue(session, catalogue.policies, now)
        register_newest_bundle(session, now)  # a published bundle supersedes the shipped catalogue
        if ctx.settings.bootstrap_admin_token is not None:
            register_api_token(
                session,
                ctx.hasher,
                secret=ctx.settings.bootstrap_admin_token.get_secret_value(),
                name="bootstrap",
                role=Role.ADMIN,
                now=now,
            )
        if ctx.settings.bootstrap_enroll_secret is not None:
            register_enroll_secret(
                session,
                ctx.hasher,
                secret=ctx.settings.bootstrap_enroll_secret.get_secret_value(),
                validity=ctx.settings.bootstrap_enroll_secret_validity,
                now=now,
            )
