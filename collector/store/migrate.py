"""Schema migrations, run programmatically: `migrate(url)` brings any database to head."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from collector.errors import MigrationError

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["url"] = url  # not a main option: a password may contain '%'
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    if head is None:
        raise MigrationError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade_to_head(url: str) -> str:
    try:
        command.upgrade(alembic_config(url), "head")
    except SQLAlchemyError as exc:
        raise MigrationError(f"migrating the database failed: {exc.__class__.__name__}: {exc}") from exc
    return head_revision()


def ensure_at_head(engine: Engine) -> None:
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise MigrationError(
            f"the database schema is at revision {current or 'none'} but this collector needs {head}; "
            "run `fleetward collector migrate` first"
        )
