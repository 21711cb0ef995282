"""Engines and sessions: SQLite with WAL and foreign keys, or PostgreSQL through psycopg 3.

SQLite writers take the write lock at BEGIN (`BEGIN IMMEDIATE`), so two concurrent ingestions
queue on `busy_timeout` instead of failing when both try to upgrade a read lock.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from collector.errors import StoreError
from collector.store.entra_auth import ManagedIdentityTokens, split_client_id, use_token_password
from collector.store.ids import SESSION_KEY, IdSource, RandomIds

_IMMEDIATE = "fleetward_begin_immediate"


def make_engine(url: str, **kwargs: Any) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(
            f"FLEETWARD_DATABASE_URL is not a database URL ({exc}); use sqlite:///path.db or "
            "postgresql+psycopg://user@host/dbname"
        ) from exc
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, **kwargs)
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        parsed, entra_client_id = split_client_id(parsed)
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 10)
        engine = create_engine(parsed, pool_pre_ping=True, **kwargs)
        if entra_client_id:  # Azure: an Entra token per connection instead of a password
            use_token_password(engine, ManagedIdentityTokens(entra_client_id))
        return engine
    raise StoreError(
        f"database backend {parsed.get_backend_name()!r} is not supported; use SQLite or PostgreSQL"
    )


def _sqlite_engine(url: str, **kwargs: Any) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        if ":memory:" not in url and "mode=memory" not in url:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get(_IMMEDIATE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class Database:
    """An engine with the two ways the collector uses it: read sessions and write transactions."""

    def __init__(self, engine: Engine, *, ids: IdSource | None = None) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False, info={SESSION_KEY: ids or RandomIds()})

    @classmethod
    def from_url(cls, url: str, *, ids: IdSource | None = None, **kwargs: Any) -> Database:
        return cls(make_engine(url, **kwargs), ids=ids)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._sessions() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back entirely on any error."""
        with self._sessions() as session, session.begin():
            if self.dialect == "sqlite":
                session.connection(execution_options={_IMMEDIATE: True})
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
