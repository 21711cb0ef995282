"""Fixtures for the collector: the same tests run on SQLite and on the local PostgreSQL.

PostgreSQL: one fresh database per test session (`fleetward_test_<random>`), migrated once and
truncated before each test, dropped at the end. Unreachable PostgreSQL skips those tests, except
when `CI` is set: then they fail.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from collector.app import create_app
from collector.settings import CollectorSettings
from collector.store import Database, migrate
from collector.store.models import Base
from collector.store.policies import load_shipped_catalogue, register_catalogue
from fleetward.clock import ManualClock
from tests.collector.support import Fleet

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    name = f"fleetward_test_{secrets.token_hex(4)}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        message = f"PostgreSQL at 127.0.0.1:5432 is not usable: {type(exc).__name__}: {exc}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    migrate(url, now=START)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _truncate(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    db = Database.from_url(url)
    with db.write() as session:  # what `migrate` registers: the shipped catalogue
        register_catalogue(session, load_shipped_catalogue().policies, START)
    db.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'collector.db'}"
        migrate(url, now=START)
        return url
    url: str = request.getfixturevalue("postgres_url")
    _truncate(url)
    return url


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def settings(database_url: str) -> CollectorSettings:
    return CollectorSettings(database_url=database_url)  # type: ignore[arg-type]


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database.from_url(database_url)
    yield database
    database.dispose()


@pytest.fixture
def client(settings: CollectorSettings, clock: ManualClock) -> Iterator[TestClient]:
    with TestClient(create_app(settings, clock=clock), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def fleet(client: TestClient, db: Database, clock: ManualClock) -> Fleet:
    return Fleet(client, db, clock)
