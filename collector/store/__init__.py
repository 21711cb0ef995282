"""The collector's storage: SQLAlchemy models, Alembic migrations and the queries the API needs.

`migrate(url)` brings a database to the schema head and registers the shipped catalogue.
"""

from __future__ import annotations

from datetime import UTC, datetime

from collector.store.engine import Database, make_engine
from collector.store.migrate import upgrade_to_head


def migrate(url: str, *, now: datetime | None = None) -> str:
    """Upgrade the schema at `url` to head and register the shipped catalogue; returns the revision."""
    from collector.store.policies import load_shipped_catalogue, register_catalogue

    revision = upgrade_to_head(url)
    catalogue = load_shipped_catalogue()
    db = Database.from_url(url)
    try:
        with db.write() as session:
            register_catalogue(session, catalogue.policies, now or datetime.now(UTC))
    finally:
        db.dispose()
    return revision


__all__ = ["Database", "make_engine", "migrate"]
