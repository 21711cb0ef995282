"""Alembic environment: run by `collector.store.migrate(url)`, not by the alembic CLI's ini file."""

from __future__ import annotations

from alembic import context

from collector.store.bundles import PolicyBundle  # noqa: F401  (its table is in the schema)
from collector.store.engine import make_engine
from collector.store.models import Base

config = context.config


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.attributes["url"])
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=Base.metadata,
        render_as_batch=True,  # SQLite needs ALTER TABLE done by copy
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline SQL generation is not supported; run `fleetward collector migrate`")
run_migrations_online()
