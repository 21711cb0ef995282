"""The SQL fleet state agrees with the pure `fleet_state_at` on the same data, at every instant tried."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from datetime import timedelta

import pytest

from collector.domain.fleet import fleet_state_at
from collector.domain.state import DEFAULT_VALIDITY
from collector.store import Database
from collector.store.credentials import Hasher, create_enroll_secret
from collector.store.enrollment import enroll
from collector.store.fleet_state import StateFilter, fleet_counts, fleet_pairs
from collector.store.history import load_history
from collector.store.ingest import ingest_report
from collector.store.policies import PolicyRegistry, load_shipped_catalogue
from collector.store.waivers import grant_waiver, revoke_waiver
from fleetward.policy.model import Platform
from fleetward.policy.verdict import Result, Status
from fleetward.wire import EnrollRequest, HostIdentity, Report, ReportKind
from tests.collector.conftest import START

PRACTICES = ["Y01234", "Y05678", None]


def _build_fleet(db: Database, seed: int) -> list:
    rnd = random.Random(seed)
    catalogue = load_shipped_catalogue()
    by_platform = {p: [pol for pol in catalogue.policies if pol.applies_to(p)] for p in Platform}
    hasher, registry = Hasher(), PolicyRegistry()
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
    devices = []
    for n in range(12):
        platform = rnd.choice(list(Platform))
        enrolled_at = START + timedelta(days=rnd.choice([0, 0, 0, 20]))
        host = HostIdentity(
            uuid=f"UUID-{seed}-{n}",
            hostname=f"host-{rnd.randint(0, 5)}",
            platform=platform,
            practice=rnd.choice(PRACTICES),
        )
        with db.write() as session:
            device_id = enroll(
                session, hasher, EnrollRequest(enroll_secret=secret, host=host), now=enrolled_at
            ).device_id
        devices.append((device_id, platform, enrolled_at))
    observations = []
    for device_id, platform, enrolled_at in devices:
        at = enrolled_at
        for _ in range(rnd.randint(0, 9)):
            at += timedelta(hours=rnd.choice([1, 5, 24, 24 * 3, 24 * 12, 24 * 35]))
            policies = rnd.sample(by_platform[platform], k=rnd.randint(1, len(by_platform[platform])))
            results = [
                Result(
                    policy_id=p.id,
                    policy_version=rnd.choice([p.version, "old"]),
                    status=rnd.choice([Status.PASS, Status.PASS, Status.FAIL, Status.ERROR]),
                )
                for p in policies
            ]
            # As the agent does: other platforms' policies reported not_applicable. A silent device
            # must not go stale on them (scoped staleness).
            others = [p for p in catalogue.policies if not p.applies_to(platform)]
            results += [
                Result(policy_id=p.id, policy_version=p.version, status=Status.NOT_APPLICABLE)
                for p in rnd.sample(others, k=rnd.randint(0, len(others)))
            ]
            if rnd.random() < 0.2:
                results.append(
                    Result(
                        policy_id="custom-usb-block",
                        policy_version="c1",
                        status=rnd.choice([Status.PASS, Status.NOT_APPLICABLE, Status.FAIL]),
                    )
                )
            report = Report(
                report_id=uuid.uuid4(),
                kind=ReportKind.SNAPSHOT,
                observed_at=at,
                agent_version="t",
                results=results,
            )
            observations.append((device_id, report))
    # Most reports arrive in order; some are delivered late, in any order.
    late = [o for o in observations if rnd.random() < 0.3]
    ordered = [o for o in observations if o not in late]
    rnd.shuffle(late)
    for device_id, report in ordered + late:
        with db.write() as session:
            ingest_report(
                session, device_id, report, received_at=START, validity=DEFAULT_VALIDITY, registry=registry
            )
    with db.write() as session:
        some = [d for d, _, _ in devices][:3]
        for index, device_id in enumerate(some):
            policy = rnd.choice(by_platform[{d: p for d, p, _ in devices}[device_id]])
            granted = START + timedelta(days=rnd.randint(0, 30))
            w = grant_waiver(
                session,
                policy_id=policy.id,
                device_id=device_id,
                practice=None,
                justification="tested exception",
                owner="owner",
                expires_at=granted + timedelta(days=rnd.randint(5, 60)),
                now=granted,
                granted_by="t",
            )
            if index == 0:
                revoke_waiver(session, w.id, now=w.granted_at + timedelta(days=2), by="t")
        for policy in catalogue.policies[:6]:
            grant_waiver(
                session,
                policy_id=policy.id,
                device_id=None,
                practice="Y01234",
                justification="practice-wide exception",
                owner="owner",
                expires_at=START + timedelta(days=45),
                now=START + timedelta(days=10),
                granted_by="t",
            )
    instants = {START + timedelta(days=d, hours=rnd.randint(0, 23)) for d in range(-1, 130, 3)}
    for _, report in observations:
        instants |= {report.observed_at, report.observed_at - timedelta(microseconds=1)}
    return sorted(instants)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sql_fleet_state_matches_the_pure_derivation(db: Database, seed: int) -> None:
    instants = _build_fleet(db, seed)
    history = load_history(db.engine)
    seen: set[str] = set()
    with db.read() as session:
        for at in instants:
            expected_rows = fleet_state_at(history, at)
            seen |= {r.state.status.value for r in expected_rows}
            expected = Counter(
                (r.policy.id, r.device.platform.value, r.state.status.value) for r in expected_rows
            )
            actual = fleet_counts(session, at, validity=DEFAULT_VALIDITY)
            assert +actual == +expected, at
            pairs = fleet_pairs(session, at, validity=DEFAULT_VALIDITY, limit=100_000)
            assert sorted(
                (p.device_id, p.policy_id, p.status, p.failing_since, p.since, p.last_seen, p.policy_version)
                for p in pairs
            ) == sorted(
                (
                    r.device.device_id,
                    r.policy.id,
                    r.state.status.value,
                    r.state.failing_since,
                    r.state.since,
                    r.state.last_seen,
                    r.state.policy_version,
                )
                for r in expected_rows
            ), at
    assert {"pass", "fail", "error", "in_grace", "waived", "stale", "not_applicable"} <= seen  # all exercised


def test_filters_and_status_selection_agree_with_the_pure_derivation(db: Database) -> None:
    instants = _build_fleet(db, 7)
    history = load_history(db.engine)
    at = instants[len(instants) // 2]
    expected_rows = fleet_state_at(history, at)
    with db.read() as session:
        for status in ("fail", "stale", "waived", "pass"):
            got = {
                (p.device_id, p.policy_id)
                for p in fleet_pairs(session, at, validity=DEFAULT_VALIDITY, status=status, limit=10_000)
            }
            want = {
                (r.device.device_id, r.policy.id) for r in expected_rows if r.state.status.value == status
            }
            assert got == want, status
        flt = StateFilter(practice="Y01234", platform="windows")
        got_counts = fleet_counts(session, at, validity=DEFAULT_VALIDITY, flt=flt)
        want_counts = Counter(
            (r.policy.id, r.device.platform.value, r.state.status.value)
            for r in expected_rows
            if r.device.practice == "Y01234" and r.device.platform is Platform.WINDOWS
        )
        assert +got_counts == +want_counts
