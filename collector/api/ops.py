"""Operations: liveness, readiness (database reachable, schema at head) and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from collector.api.deps import Context
from collector.api.schemas import Health, Readiness
from collector.errors import ApiError, MigrationError
from collector.store.migrate import ensure_at_head, head_revision
from fleetward.wire import ErrorBody, ErrorCode

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health, summary="The process is up")
def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz", response_model=Readiness, responses={503: {"model": ErrorBody}}, summary="Ready for traffic"
)
def readyz(ctx: Context) -> Readiness:
    try:
        with ctx.db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        ensure_at_head(ctx.db.engine)
    except MigrationError as exc:
        raise ApiError(503, ErrorCode.NOT_READY, str(exc)) from exc
    except SQLAlchemyError as exc:
        raise ApiError(
            503, ErrorCode.NOT_READY, f"the database is not reachable: {type(exc).__name__}"
        ) from exc
    return Readiness(status="ready", schema_revision=head_revision())


@router.get("/metrics", response_class=Response, summary="Prometheus metrics (text format)")
def metrics(ctx: Context) -> Response:
    return Response(generate_latest(ctx.metrics.registry), media_type=CONTENT_TYPE_LATEST)
