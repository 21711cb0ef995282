"""Where a report's data comes from: the collector's database, or a collector over HTTP.

Each source returns the `FleetHistory` and a description of itself with credentials removed
(no user, password or query string), which the report states as its `source`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

from collector.domain.fleet import FleetHistory
from collector.domain.state import DEFAULT_VALIDITY
from collector.reports.errors import ReportSourceError
from collector.reports.history_io import history_from_json

HISTORY_PATH = "/v1/reports/history"


def describe_database(url: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ReportSourceError(
            f"--database-url is not a database URL ({exc}); use sqlite:///path.db or postgresql+psycopg://host/db"
        ) from exc
    return "database " + parsed.set(username=None, password=None, query={}).render_as_string(
        hide_password=True
    )


def describe_collector(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return "collector " + urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def history_from_database(
    url: str, validity: timedelta = DEFAULT_VALIDITY, *, known_at: datetime | None = None
) -> FleetHistory:
    from sqlalchemy.exc import SQLAlchemyError

    from collector.store.engine import make_engine
    from collector.store.history import load_history

    engine = make_engine(url)
    try:
        return load_history(engine, validity=validity, known_at=known_at)
    except SQLAlchemyError as exc:
        raise ReportSourceError(
            f"could not read the fleet from {describe_database(url)}: {exc.__class__.__name__}: "
            f"{str(exc).splitlines()[0]}; check the URL and run `fleetward collector migrate` on a new database"
        ) from exc
    finally:
        engine.dispose()


def history_from_collector(
    url: str, token: str, timeout: float = 300.0, *, known_at: datetime | None = None
) -> FleetHistory:
    import httpx

    where = describe_collector(url)
    endpoint = url.rstrip("/") + HISTORY_PATH
    params = {} if known_at is None else {"as_known_at": known_at.isoformat()}
    try:
        response = httpx.get(
            endpoint, params=params, headers={"Authorization": f"Bearer {token}"}, timeout=timeout
        )
    except httpx.HTTPError as exc:
        raise ReportSourceError(f"could not reach {where}: {exc}; check --collector") from exc
    if response.status_code in (401, 403):
        raise ReportSourceError(
            f"{where} refused the token ({response.status_code}): use an auditor or admin token "
            "(`fleetward collector token create --role auditor`)"
        )
    if response.status_code != 200:
        raise ReportSourceError(
            f"{where} answered {response.status_code} to GET {HISTORY_PATH}: {response.text[:300]}"
        )
    return history_from_json(response.content, where)
