"""`fleetward collector ...`: run, migrate and administer the collector from the command line.

Only typer and the standard library are imported here; the server and database stack load inside
each command so `fleetward --help` stays fast.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
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
def rollup(
    days: Annotated[int, typer.Option(min=1, max=1100, help="How many closed days back from today")] = 40,
    database_url: DatabaseOption = None,
) -> None:
    """Compute the daily rollups the dashboard's trends read, for the closed days missing or out of
    date (a late report or a waiver change marks days out of date). Schedule it after midnight UTC;
    a dashboard view computes a missing day itself, slower."""
    from datetime import timedelta

    from collector.store.rollups import refresh_rollups

    now = _now()
    wanted = [(now - timedelta(days=n)).date() for n in range(1, days + 1)]
    with _session(database_url) as (session, settings):
        done = refresh_rollups(session, wanted, validity=settings.validity, now=now)
    typer.echo(f"rolled up {len(done)} day(s); {days - len(done)} already up to date")


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
    max_uses: Annotated[
        int, typer.Option(min=1, max=100_000, help="How many enrolments it may make (re-enrolments count)")
    ] = 100,
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
                max_uses=max_uses,
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

    table = Table("id", "name", "practice", "uses", "expires", "revoked")
    table.columns[0].no_wrap = True
    with _session(database_url) as (session, _):
        for s in list_enroll_secrets(session):
            table.add_row(
                s.id,
                s.name,
                s.practice or "",
                f"{s.uses} of {s.max_uses}" if s.max_uses is not None else f"{s.uses} (no limit)",
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


report_key_app = typer.Typer(
    no_args_is_help=True, help="The Ed25519 key that signs every report this collector issues."
)
app.add_typer(report_key_app, name="report-key")


def _report_key_file() -> Path:
    path = _settings(None).report_signing_key_file
    if path is None:
        raise _fail(
            "no report signing key file is configured: set FLEETWARD_REPORT_SIGNING_KEY_FILE (the key is "
            "generated there on first start)"
        )
    return path


@report_key_app.command("show")
def report_key_show() -> None:
    """Print the public keys that verify this collector's reports (give one to auditors)."""
    from collector.reports.signing import ReportKeys
    from fleetward.bundle.errors import KeyFileError

    try:
        keys = ReportKeys.load_or_create(_report_key_file())
    except (KeyFileError, OSError) as exc:
        _fail(str(exc))
    current = keys.current.public
    typer.echo(f"{current.text}  key id {current.key_id} (current)")
    for key in keys.retired:
        typer.echo(f"{key.text}  key id {key.key_id} (retired: verifies older reports)")


@report_key_app.command("rotate")
def report_key_rotate() -> None:
    """Retire the signing key (its public key is kept to verify older reports) and make a new one.
    Restart the collector processes afterwards."""
    from collector.reports.signing import ReportKeys
    from fleetward.bundle.errors import KeyFileError

    path = _report_key_file()
    try:
        before = ReportKeys.load_or_create(path).current.public.key_id
        keys = ReportKeys.rotate(path)
    except (KeyFileError, OSError) as exc:
        _fail(str(exc))
    typer.echo(f"retired key {before}; new key {keys.current.public.key_id}: {keys.current.public.text}")
    typer.echo("restart every collector process to sign with the new key")
