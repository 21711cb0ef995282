"""Knowledge time: the fleet as known at K, rebuilt from the final database, is exactly the fleet
a fresh database holds after ingesting only the reports received by K.

Random per-device report sequences (snapshots with every result, transitions with some, wrong
laptop clocks, evidence that changes), each device's outbox delivered in order with random
delays (an offline laptop's backlog arrives days later), several devices interleaved and some
reports arriving in one batch. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import secrets
import tempfile
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text

from collector.domain.fleet import FleetHistory
from collector.domain.state import DEFAULT_VALIDITY
from collector.store import Database
from collector.store.history import load_history
from collector.store.ingest import Incoming, ingest_reports
from collector.store.models import Base, Device
from collector.store.policies import PolicyRegistry, load_shipped_catalogue, register_catalogue
from fleetward.policy.model import Platform
from fleetward.policy.verdict import Result, Status
from fleetward.wire import Report, ReportKind
from tests.collector.conftest import PG_ADMIN_URL, START

POLICIES = [p for p in load_shipped_catalogue().policies if p.applies_to(Platform.WINDOWS)][:3]
DEVICES = ("dev-a", "dev-b", "dev-c")


@st.composite
def deliveries(draw: st.DrawFn) -> list[tuple[datetime, Incoming]]:
    """(received_at, report) in the order the collector receives them."""
    out: list[tuple[datetime, Incoming]] = []
    for device in DEVICES[: draw(st.integers(1, 3))]:
        received = START + timedelta(hours=draw(st.integers(0, 48)))
        for _ in range(draw(st.integers(1, 8))):
            received += timedelta(hours=draw(st.sampled_from([0, 1, 6, 24, 24 * 5, 24 * 35])))
            delay = timedelta(hours=draw(st.sampled_from([0, 0, 2, 24 * 3, 24 * 20])))
            skew = timedelta(hours=draw(st.sampled_from([0, 0, 0, -3, 2, -24 * 40])))  # wrong clocks
            snapshot = draw(st.booleans())
            chosen = (
                POLICIES
                if snapshot
                else draw(st.lists(st.sampled_from(POLICIES), min_size=1, unique_by=lambda p: p.id))
            )
            results = [
                Result(
                    policy_id=p.id,
                    policy_version=draw(st.sampled_from([p.version, p.version, "old"])),
                    status=draw(st.sampled_from([Status.PASS, Status.PASS, Status.FAIL, Status.ERROR])),
                    evidence=[{"row": draw(st.sampled_from(["1", "2"]))}],
                    error=draw(st.sampled_from([None, None, "query failed"])),
                )
                for p in chosen
            ]
            report = Report(
                report_id=uuid.UUID(int=draw(st.integers(0, 2**64))),
                kind=ReportKind.SNAPSHOT if snapshot else ReportKind.TRANSITION,
                observed_at=received - delay + skew,
                agent_version="1.0",
                results=results,
            )
            out.append((received, Incoming(device, report)))
    unique = {str(i.report.report_id): (at, i) for at, i in out}  # drawn ids may repeat
    return sorted(unique.values(), key=lambda d: (d[0], d[1].device_id))


def _fresh(url: str) -> Database:
    engine = create_engine(url)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    engine.dispose()
    db = Database.from_url(url)
    with db.write() as session:
        register_catalogue(session, load_shipped_catalogue().policies, START)
        for device in DEVICES:
            session.add(
                Device(
                    id=device,
                    hardware_uuid=f"HW-{device}",
                    hostname=device,
                    platform=Platform.WINDOWS.value,
                    enrolled_at=START,
                )
            )
    return db


def _ingest(db: Database, sent: list[tuple[datetime, Incoming]]) -> None:
    registry = PolicyRegistry()
    batches: list[tuple[datetime, list[Incoming]]] = []
    for at, item in sent:  # reports received at the same instant go in one batch
        if batches and batches[-1][0] == at:
            batches[-1][1].append(item)
        else:
            batches.append((at, [item]))
    for at, batch in batches:
        with db.write() as session:
            ingest_reports(session, batch, received_at=at, validity=DEFAULT_VALIDITY, registry=registry)


def _picture(history: FleetHistory) -> dict[str, Any]:
    return {
        "runs": {
            key: [(r.status, r.policy_version, r.since, r.last_seen, r.evidence, r.error) for r in runs]
            for key, runs in sorted(history.runs.items())
        },
        "late": sorted(history.late_reports, key=lambda r: (r.device_id, r.received_at, r.observed_at)),
    }


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def two_databases(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    if request.param == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{Path(tmp) / 'final.db'}", f"sqlite:///{Path(tmp) / 'fresh.db'}"
        return
    request.getfixturevalue("postgres_url")  # skips (or fails under CI) when PostgreSQL is unusable
    names = [f"fleetward_test_{secrets.token_hex(4)}" for _ in range(2)]
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield tuple(f"postgresql+psycopg://postgres@127.0.0.1:5432/{n}" for n in names)  # type: ignore[misc]
    finally:
        with admin.connect() as conn:
            for name in names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sent=deliveries(), picks=st.lists(st.integers(0, 10**6), min_size=1, max_size=3))
def test_known_at_equals_a_database_that_received_only_that(
    two_databases: tuple[str, str], sent: list[tuple[datetime, Incoming]], picks: list[int]
) -> None:
    final_url, fresh_url = two_databases
    final = _fresh(final_url)
    _ingest(final, sent)
    times = sorted({at for at, _ in sent})
    # Exactly at a receipt, between two, and after the last.
    candidates = times + [t + timedelta(minutes=30) for t in times]
    for pick in picks:
        known_at = candidates[pick % len(candidates)]
        fresh = _fresh(fresh_url)
        _ingest(fresh, [(at, item) for at, item in sent if at <= known_at])
        rebuilt = load_history(final.engine, known_at=known_at)
        expected = load_history(fresh.engine)
        fresh.dispose()
        assert _picture(rebuilt) == _picture(expected), f"as known at {known_at.isoformat()}"
    # Known now is simply everything.
    assert _picture(load_history(final.engine, known_at=times[-1])) == _picture(load_history(final.engine))
    final.dispose()


def test_in_order_snapshots_write_no_revisions_and_a_placement_keeps_the_pair(database_url: str) -> None:
    from sqlalchemy import func, select

    from collector.store.models import RunRevision

    db = Database.from_url(database_url)
    with db.write() as session:
        session.add(
            Device(id="dev-a", hardware_uuid="HW-a", hostname="a", platform="windows", enrolled_at=START)
        )
    policy = POLICIES[0]

    def report(kind: ReportKind, hours: int, status: Status, evidence: str = "1") -> Incoming:
        result = Result(
            policy_id=policy.id, policy_version=policy.version, status=status, evidence=[{"row": evidence}]
        )
        return Incoming(
            "dev-a",
            Report(
                report_id=uuid.uuid4(),
                kind=kind,
                observed_at=START + timedelta(hours=hours),
                agent_version="1.0",
                results=[result],
            ),
        )

    def revisions() -> list[str]:
        with db.read() as session:
            return list(session.scalars(select(RunRevision.kind).order_by(RunRevision.id)))

    sent = [(START + timedelta(hours=h), report(ReportKind.SNAPSHOT, h, Status.PASS)) for h in (1, 2, 3)]
    _ingest(db, sent)
    assert revisions() == []  # the hot path: last_seen is rebuilt from the snapshot receipts
    _ingest(db, [(START + timedelta(hours=4), report(ReportKind.SNAPSHOT, 4, Status.PASS, evidence="2"))])
    assert revisions() == ["confirmed"]  # new evidence: the old is kept
    _ingest(db, [(START + timedelta(hours=5), report(ReportKind.TRANSITION, 5, Status.PASS, evidence="2"))])
    assert revisions() == ["confirmed", "confirmed"]  # a transition carries only some results
    _ingest(db, [(START + timedelta(hours=6), report(ReportKind.SNAPSHOT, 2, Status.FAIL))])  # late
    assert revisions() == ["confirmed", "confirmed", "placed"]  # the pair's one run, before the split
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(RunRevision)) == 3
    db.dispose()
