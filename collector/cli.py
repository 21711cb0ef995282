"""`fleetward collector ...`: run, migrate and administer the collector from the command line.

Only typer and the standard library are imported here; the server and database stack load inside
each command so `fleetward --help` stays fast.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sqlalchemy.orm import Session

    from collector.settings import CollectorSettings
    from collector.store.credentials import Hasher

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="Run and administer the collector service."
)
token_app = typer.Typer(no_args_is_help=True, help="API tokens for auditors and admins (stored hashed).")
secret_app = typer.Typer(no_args_is_help=True, help="Enroll secrets that laptops exchange for device keys.")
app.add_typer(token_app, name="token")
app.add_typer(secret_app, name="enroll-secret")

DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database-url", help="SQLAlchemy URL; default FLEETWARD_DATABASE_URL or sqlite:///./fleetward.db"
    ),
]
CLI_ACTOR = "cli"


def _settings(database_url: str | None) -> CollectorSettings:
    from pydantic import SecretStr, ValidationError

    from collector.settings import CollectorSettings

    try:
        settings = CollectorSettings()
    except ValidationError as exc:
        _fail(f"the collector settings are invalid:\n{exc}")
    if database_url:
        settings = settings.model_copy(update={"database_url": SecretStr(database_url)})
    return settings


def _fail(message: str) -> typer.Exit:
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(1)


@contextmanager
def _session(database_url: str | None) -> Iterator[tuple[Session, CollectorSettings]]:
    from collector.errors import CollectorError
    from collector.store.engine import Database
    from collector.store.migrate import ensure_at_head

    settings = _settings(database_url)
    try:
        db = Database.from_url(settings.database_url_value())
        try:
            ensure_at_head(db.engine)
            with db.write() as session:
                yield session, settings
        finally:
            db.dispose()
    except CollectorError as exc:
        _fail(str(exc))


def _hasher(settings: CollectorSettings) -> Hasher:
    from collector.store.credentials import Hasher

    pepper = settings.token_pepper.get_secret_value().encode() if settings.token_pepper else None
    return Hasher(pepper)


def _now() -> datetime:
    from fleetward.clock import SystemClock

    return SystemClock().now()


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Listen address (FLEETWARD_HOST, default 127.0.0.1)")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (FLEETWARD_PORT, default 8800)")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes (state is in the database)")] = 1,
) -> None:
    """Serve the HTTP API with uvicorn (JSON logs on stderr). Run `migrate` first."""
    import uvicorn

    from collector.observability import configure_logging

    settings = _settings(None)
    configure_logging(settings.log_level)
    uvicorn.run(
        "collector.asgi:app_factory",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_config=None,
        access_log=False,
        proxy_headers=True,
    )


@app.command()
def migrate(database_url: DatabaseOption = None) -> None:
    """Bring the database schema to the newest version and register the shipped policy catalogue."""
    from collector.errors import CollectorError
    from collector.store import migrate as run_migrations

    settings = _settings(database_url)
    try:
        revision = run_migrations(settings.database_url_value())
    except CollectorError as exc:
        _fail(str(exc))
    typer.echo(f"database schema at revision {revision}")


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Option(help="Who or what holds it, e.g. 'DSPT auditor 2026'")],
    role: Annotated[str, typer.Option(help="auditor (read-only) or admin")] = "auditor",
    database_url: DatabaseOption = None,
) -> None:
    """Create an API token. It is printed once, here; only its digest is stored."""
    from collector.errors import CollectorError
    from collector.store.credentials import Role, create_api_token

    if role not in ("auditor", "admin"):
        _fail(f"--role must be auditor or admin, not {role!r} (devices get keys by enrolling)")
    try:
        with _session(database_url) as (session, settings):
            hasher = _hasher(settings)
            issued = create_api_token(
                session,
                hasher,
                name=name,
                role=Role(role),
                now=_now(),
                created_by=CLI_ACTOR,
            )
    except CollectorError as exc:
        _fail(str(exc))
    typer.echo(f"created {role} token {issued.id} ({name}); store it now, it is not shown again:", err=True)
    typer.echo(issued.secret)


@token_app.command("list")
def token_list(database_url: DatabaseOption = None) -> None:
    """List API tokens (never their values)."""
    from rich.console import Console
    from rich.table import Table

    from collector.store.credentials import list_api_tokens

    table = Table("id", "name", "role", "created", "revoked")
    table.columns[0].no_wrap = True
    with _session(database_url) as (session, _):
        for t in list_api_tokens(session):
            table.add_row(
                t.id,
                t.name,
                t.role,
                t.created_at.isoformat(),
                t.revoked_at.isoformat() if t.revoked_at else "",
            )
    Console().print(table)


@token_app.command("revoke")
def token_revoke(token_id: str, database_url: DatabaseOption = None) -> None:
    """Revoke an API token at once."""
    from collector.errors import CollectorError
    from collector.store.credentials import revoke_api_token

    try:
        with _session(database_url) as (session, _):
            revoke_api_token(session, token_id, now=_now(), by=CLI_ACTOR)
    except CollectorError as exc:
        _fail(str(exc))
    typer.echo(f"revoked token {token_id}")


@secret_app.command("create")
def secret_create(
    practice: Annotated[
        str | None, typer.Option(help="Tag enrolled devices with this practice (ODS code)")
    ] = None,
    expires_in: Annotated[str, typer.Option(help="ISO 8601 duration, e.g. P30D or PT12H")] = "P30D",
    name: Annotated[str, typer.Option(help="What it is for")] = "",
    database_url: DatabaseOption = None,
) -> None:
    """Create an enroll secret. It is printed once, here; only its digest is stored."""
    from datetime import timedelta

    from pydantic import TypeAdapter, ValidationError

    from collector.errors import CollectorError
    from collector.store.credentials import create_enroll_secret

    try:
        lifetime = TypeAdapter(timedelta).validate_python(expires_in)
    except ValidationError:
        _fail(f"--expires-in {expires_in!r} is not an ISO 8601 duration; use e.g. P30D or PT12H")
    now = _now()
    try:
        with _session(database_url) as (session, settings):
            hasher = _hasher(settings)
            issued = create_enroll_secret(
                session,
                hasher,
                name=name,
                practice=practice,
                expires_at=now + lifetime,
                now=now,
                created_by=CLI_ACTOR,
            )
    except CollectorError as exc:
        _fail(getattr(exc, "message", str(exc)))
    typer.echo(f"created enroll secret {issued.id}; store it now, it is not shown again:", err=True)
    typer.echo(issued.secret)


@secret_app.command("list")
def secret_list(database_url: DatabaseOption = None) -> None:
    """List enroll secrets (never their values)."""
    from rich.console import Console
    from rich.table import Table

    from collector.store.credentials import list_enroll_secrets

    table = Table("id", "name", "practice", "expires", "revoked")
    table.columns[0].no_wrap = True
    with _session(database_url) as (session, _):
        for s in list_enroll_secrets(session):
            table.add_row(
                s.id,
                s.name,
                s.practice or "",
                s.expires_at.isoformat(),
                s.revoked_at.isoformat() if s.revoked_at else "",
            )
    Console().print(table)


@secret_app.command("revoke")
def secret_revoke(secret_id: str, database_url: DatabaseOption = None) -> None:
    """Revoke an enroll secret: devices already enrolled keep their keys."""
    from collector.errors import CollectorError
    from collector.store.credentials import revoke_enroll_secret

    try:
        with _session(database_url) as (session, _):
            revoke_enroll_secret(session, secret_id, now=_now(), by=CLI_ACTOR)
    except CollectorError as exc:
        _fail(getattr(exc, "message", str(exc)))
    typer.echo(f"revoked enroll secret {secret_id}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
