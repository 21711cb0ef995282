"""Reports ingested many per transaction store exactly what one report per transaction stores.

`ingest_reports` is what group commit runs; `ingest_report` (a batch of one) is what the
differential test against the pure derivation (test_collector_fleet_state_sql.py) runs. The same
deliveries in any batching must leave the same runs, receipts, events and device rows, and give
every report the same answer, including several reports of one device in a batch, late reports
taking the slow path, a report sent again in the same batch or a later one, and a report id
already ingested from another device.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from collector.domain.state import DEFAULT_VALIDITY
from collector.errors import Forbidden, Unauthorized
from collector.store import Database
from collector.store.credentials import Hasher, create_enroll_secret
from collector.store.enrollment import enroll
from collector.store.group_commit import Accepted, Answer, Delivery, GroupCommitter
from collector.store.ingest import Incoming, Ingested, IngestOutcome, ingest_reports
from collector.store.models import AgentEventRow, Device, DeviceKey, IngestedReport, StatusRun
from collector.store.policies import PolicyRegistry, load_shipped_catalogue
from fleetward.policy.model import Platform
from fleetward.policy.verdict import Result, Status
from fleetward.wire import AgentEvent, EnrollRequest, EventKind, HostIdentity, Report, ReportKind
from tests.collector.conftest import START


def _devices(db: Database, n: int) -> list[tuple[str, Platform]]:
    hasher = Hasher()
    with db.write() as session:
        secret = create_enroll_secret(
            session,
            hasher,
            name="t",
            practice=None,
            expires_at=START + timedelta(days=400),
            now=START,
            created_by="t",
        ).secret
    out = []
    for i in range(n):
        platform = list(Platform)[i % len(Platform)]
        host = HostIdentity(uuid=f"HW-{i}", hostname=f"host-{i}", platform=platform)
        with db.write() as session:
            out.append(
                (
                    enroll(
                        session, hasher, EnrollRequest(enroll_secret=secret, host=host), now=START
                    ).device_id,
                    platform,
                )
            )
    return out


def _deliveries(devices: list[tuple[str, Platform]], rnd: random.Random) -> list[Incoming]:
    catalogue = load_shipped_catalogue()
    sent: list[Incoming] = []
    for device_id, platform in devices:
        policies = [p for p in catalogue.policies if p.applies_to(platform)]
        at = START
        for _ in range(rnd.randint(3, 12)):
            at += timedelta(hours=rnd.choice([1, 4, 24, 24 * 40]))
            results = [
                Result(
                    policy_id=p.id,
                    policy_version=rnd.choice([p.version, p.version, "old"]),
                    status=rnd.choice([Status.PASS, Status.PASS, Status.PASS, Status.FAIL, Status.ERROR]),
                    evidence=[{"row": str(rnd.randint(0, 3))}],
                )
                for p in rnd.sample(policies, k=rnd.randint(1, len(policies)))
            ]
            events = (
                [AgentEvent(kind=EventKind.OSQUERY_UNAVAILABLE, at=at, message="x")]
                if rnd.random() < 0.1
                else []
            )
            report = Report(
                report_id=uuid.uuid4(),
                kind=ReportKind.SNAPSHOT,
                observed_at=at,
                agent_version=f"1.{rnd.randint(0, 3)}",
                results=results,
                events=events,
            )
            sent.append(Incoming(device_id, report))
    # Mostly in order per device, interleaved across devices; some late; some sent twice; some stolen ids.
    rnd.shuffle(sent)
    sent.sort(key=lambda i: i.report.observed_at if rnd.random() < 0.8 else START)
    again = [rnd.choice(sent) for _ in range(len(sent) // 8)]
    stolen = [Incoming(rnd.choice(devices)[0], rnd.choice(sent).report) for _ in range(3)]
    for extra in again + stolen:
        sent.insert(rnd.randint(0, len(sent)), extra)
    return sent


def _answer(outcome: Ingested) -> tuple[Any, ...]:
    if isinstance(outcome, Forbidden):
        return ("forbidden", outcome.code)
    return ("ok", outcome.duplicate, outcome.transitions)


def _stored(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    with db.read() as session:
        runs = session.execute(
            select(
                StatusRun.device_id,
                StatusRun.policy_id,
                StatusRun.since,
                StatusRun.status,
                StatusRun.policy_version,
                StatusRun.last_seen,
                StatusRun.next_since,
                StatusRun.failing_since,
                StatusRun.evidence,
                StatusRun.error,
                StatusRun.report_id,
                StatusRun.last_report_id,
            )
        )
        receipts = session.execute(
            select(
                IngestedReport.report_id,
                IngestedReport.device_id,
                IngestedReport.observed_at,
                IngestedReport.result_count,
                IngestedReport.transitions,
                IngestedReport.late_results,
            )
        )
        events = session.execute(select(AgentEventRow.device_id, AgentEventRow.report_id, AgentEventRow.at))
        devices = session.execute(select(Device.id, Device.last_report_at, Device.agent_version))
        return {
            "runs": sorted(tuple(str(v) for v in r) for r in runs),
            "receipts": sorted(tuple(str(v) for v in r) for r in receipts),
            "events": sorted(tuple(str(v) for v in r) for r in events),
            "devices": sorted(tuple(str(v) for v in r) for r in devices),
        }


def _forget(db: Database) -> None:
    with db.write() as session:
        for model in (AgentEventRow, StatusRun, IngestedReport):
            session.execute(delete(model))
        session.execute(update(Device).values(last_report_at=None, agent_version=""))


def _ingest(db: Database, batches: list[list[Incoming]]) -> list[tuple[Any, ...]]:
    registry = PolicyRegistry()
    answers = []
    for batch in batches:
        with db.write() as session:
            outcomes = ingest_reports(
                session, batch, received_at=START, validity=DEFAULT_VALIDITY, registry=registry
            )
        answers.extend(_answer(o) for o in outcomes)
    return answers


@pytest.mark.parametrize("seed", [1, 2])
def test_any_batching_stores_what_one_report_per_transaction_stores(db: Database, seed: int) -> None:
    rnd = random.Random(seed)
    sent = _deliveries(_devices(db, 6), rnd)

    one_by_one = _ingest(db, [[item] for item in sent])
    expected = _stored(db)
    assert any(a[0] == "forbidden" for a in one_by_one)
    assert any(a[:2] == ("ok", True) for a in one_by_one)
    assert len({(r[0], r[1]) for r in expected["runs"]}) < len(expected["runs"])  # transitions happened

    for sizes in ([len(sent)], [rnd.randint(2, 9) for _ in range(len(sent))]):
        _forget(db)
        batches, rest = [], list(sent)
        for size in sizes:
            if not rest:
                break
            batches.append(rest[:size])
            rest = rest[size:]
        assert any(len({i.device_id for i in b}) < len(b) for b in batches)  # a device twice in a batch
        assert _ingest(db, batches) == one_by_one
        assert _stored(db) == expected


def _report(hours: int) -> Report:
    policy = load_shipped_catalogue().policies[0]
    return Report(
        report_id=uuid.uuid4(),
        kind=ReportKind.SNAPSHOT,
        observed_at=START + timedelta(hours=hours),
        agent_version="1",
        results=[Result(policy_id=policy.id, policy_version=policy.version, status=Status.PASS)],
    )


def _deliver(db: Database, deliveries: list[Delivery], **options: Any) -> list[Answer]:
    committer = GroupCommitter(db, PolicyRegistry(), validity=DEFAULT_VALIDITY, now=lambda: START, **options)
    try:
        # Handed over together: one batch. In a thread of its own, so a loop another test left
        # running in this thread (Playwright's sync API keeps one) neither blocks nor is replaced.
        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, committer.ingest_all(deliveries)).result()
    finally:
        committer.close()


def test_a_failing_batch_is_retried_report_by_report_so_only_the_bad_one_fails(db: Database) -> None:
    (device_id, _), (other_id, _) = _devices(db, 2)
    good, late_good = Delivery(_report(1), device_id=device_id), Delivery(_report(2), device_id=other_id)
    unknown_device = Delivery(_report(3), device_id="dev_does_not_exist")  # a foreign key fails the batch

    first, bad, second = _deliver(db, [good, unknown_device, late_good])
    assert isinstance(first, Accepted)
    assert isinstance(second, Accepted)
    assert (first.device_id, second.device_id) == (device_id, other_id)
    assert isinstance(first.outcome, IngestOutcome)
    assert isinstance(second.outcome, IngestOutcome)
    assert (first.outcome.duplicate, first.outcome.transitions, second.outcome.transitions) == (False, 1, 1)
    assert isinstance(bad, IntegrityError)
    with db.read() as session:
        stored = set(session.scalars(select(IngestedReport.report_id)))
    assert stored == {str(good.report.report_id), str(late_good.report.report_id)}


def test_device_keys_are_verified_in_the_transaction_that_writes_the_report(db: Database) -> None:
    hasher = Hasher()
    with db.write() as session:
        secret = create_enroll_secret(
            session,
            hasher,
            name="t",
            practice=None,
            expires_at=START + timedelta(days=9),
            now=START,
            created_by="t",
        ).secret
    keys = {}
    for name in ("kept", "revoked", "limited"):
        host = HostIdentity(uuid=f"HW-{name}", hostname=name, platform=Platform.WINDOWS)
        with db.write() as session:
            enrolled = enroll(session, hasher, EnrollRequest(enroll_secret=secret, host=host), now=START)
        keys[name] = (enrolled.device_id, hasher.digest(enrolled.device_key))
    with db.write() as session:
        session.execute(
            update(DeviceKey).where(DeviceKey.device_id == keys["revoked"][0]).values(revoked_at=START)
        )

    def admit(device_id: str) -> None:
        if device_id == keys["limited"][0]:
            raise RuntimeError("over the rate limit")

    answers = _deliver(
        db,
        [
            Delivery(_report(1), key_digest=keys["kept"][1]),
            Delivery(_report(1), key_digest=keys["revoked"][1]),
            Delivery(_report(1), key_digest=hasher.digest("fwd_" + "A" * 43)),
            Delivery(_report(1), key_digest=keys["limited"][1]),
        ],
        admit=admit,
    )
    kept, revoked, unknown, limited = answers
    assert isinstance(kept, Accepted)
    assert kept.device_id == keys["kept"][0]
    assert isinstance(revoked, Unauthorized)
    assert revoked.code == "device_key_invalid"
    assert isinstance(unknown, Unauthorized)
    assert isinstance(limited, RuntimeError)
    with db.read() as session:
        writers = set(session.scalars(select(IngestedReport.device_id)))
    assert writers == {keys["kept"][0]}
