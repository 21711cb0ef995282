"""Delivery to a collector over real HTTP (a scripted loopback server): order, retries, dead letters,
re-enrollment; and enrollment storing an owner-only key."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.collector_client import CollectorClient
from agent.enroll import CredentialsFile, Enroller
from agent.errors import EnrollmentError
from agent.identity import read_host
from agent.osquery.runner import ThriftRunner
from agent.outbox import Outbox
from agent.status import LAST_DELIVERY, LAST_FAILURE, StatusBook
from agent.store import Database
from agent.uploader import BACKOFF_CAP_SECONDS, MAX_SERVER_ERRORS, Uploader, next_delay
from fleetward.clock import ManualClock
from fleetward.wire import HostIdentity, ReportKind
from tests.agent.reports import report, result
from tests.agent.scripted_collector import ScriptedCollector, scripted_collector
from tests.support.osquery_server import RecordedOsqueryd

START = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
HOST = HostIdentity(uuid="4C4C4544-0042", hostname="GP-LAPTOP-017", platform="windows")


class Agent:
    """The delivery half of the agent, wired as the service wires it."""

    def __init__(
        self,
        state: Path,
        collector: ScriptedCollector,
        *,
        timeout: float = 5.0,
        secret: str | None = "enroll-secret-1",  # noqa: S107
    ) -> None:
        self.clock = ManualClock(START)
        self.db = Database.in_state_dir(state)
        self.outbox = Outbox(self.db, max_entries=1000, max_bytes=10**8, clock=self.clock)
        self.client = CollectorClient(collector.url, timeout=timeout)
        self.credentials = CredentialsFile(state)
        self.enroller = Enroller(
            collector_url=collector.url,
            secret=lambda: secret,
            identity=lambda: HOST,
            client=self.client,
            store=self.credentials,
            clock=self.clock,
        )
        self.status = StatusBook(self.db)
        self.uploader = Uploader(
            self.outbox,
            self.client,
            self.enroller,
            status=self.status,
            clock=self.clock,
            batch_size=8,  # the scripted collector has no batch route: one report per request
            rng=random.Random(1),
        )

    def put(self, n: int) -> list[str]:
        return [
            str(
                self.outbox.put(
                    report(ReportKind.TRANSITION, START + timedelta(minutes=i), result("a"))
                ).report_id
            )
            for i in range(n)
        ]

    def close(self) -> None:
        self.client.close()
        self.db.close()


@pytest.fixture
def collector() -> Iterator[ScriptedCollector]:
    with scripted_collector() as server:
        yield server


@pytest.fixture
def agent(tmp_path: Path, collector: ScriptedCollector) -> Iterator[Agent]:
    a = Agent(tmp_path / "state", collector)
    yield a
    a.close()


def test_backoff_grows_exponentially_within_jitter_and_is_capped() -> None:
    rng = random.Random(7)
    assert 2.5 <= next_delay(1, rng) <= 5
    assert 20 <= next_delay(4, rng) <= 40
    assert next_delay(50, rng) <= BACKOFF_CAP_SECONDS


@given(st.integers(min_value=1, max_value=60), st.integers())
def test_backoff_is_between_half_and_all_of_the_step(attempt: int, seed: int) -> None:
    step = min(BACKOFF_CAP_SECONDS, 5.0 * 2 ** (attempt - 1))
    assert step / 2 <= next_delay(attempt, random.Random(seed)) <= step


def test_everything_is_delivered_in_order_and_acknowledged(
    agent: Agent, collector: ScriptedCollector
) -> None:
    ids = agent.put(5)
    outcome = agent.uploader.flush()
    assert outcome.delivered == 5
    assert collector.accepted == ids
    assert agent.outbox.depth() == 0
    assert agent.status.get(LAST_DELIVERY)["delivered"] == 5


def test_first_delivery_enrolls_and_stores_an_owner_only_key(
    agent: Agent, collector: ScriptedCollector
) -> None:
    agent.put(1)
    agent.uploader.flush()
    assert collector.auth == ["Bearer key-1"]
    assert agent.credentials.path.stat().st_mode & 0o777 == 0o600
    stored = agent.credentials.load()
    assert stored is not None
    assert stored.device_key == "key-1"
    assert "key-1" not in repr(stored)


def test_server_error_stops_the_flush_keeps_the_report_and_backs_off(
    agent: Agent, collector: ScriptedCollector
) -> None:
    ids = agent.put(3)
    collector.then("/v1/reports", 503, "unavailable")
    outcome = agent.uploader.flush()
    assert outcome.delivered == 0
    assert outcome.retry_at is not None
    assert outcome.retry_at > START
    assert [str(i) for i in agent.outbox.report_ids()] == ids
    assert "503" in agent.status.get(LAST_FAILURE)["message"]
    # Not due before the backoff has passed: nothing is sent.
    assert agent.uploader.flush().stopped_by == "backing off"
    assert len(collector.attempts) == 1
    agent.clock.set(outcome.retry_at)
    assert agent.uploader.flush().delivered == 3
    assert collector.accepted == ids


def test_repeated_failures_back_off_further(agent: Agent, collector: ScriptedCollector) -> None:
    agent.put(1)
    waits = []
    for _ in range(4):
        collector.then("/v1/reports", 500, "internal_error")
        outcome = agent.uploader.flush()
        assert outcome.retry_at is not None
        waits.append((outcome.retry_at - agent.clock.now()).total_seconds())
        agent.clock.set(outcome.retry_at)
    assert waits == sorted(waits)
    assert waits[-1] > waits[0] * 2
    assert agent.uploader.flush().delivered == 1


def test_retry_after_from_the_collector_is_honoured(agent: Agent, collector: ScriptedCollector) -> None:
    agent.put(1)
    collector.then("/v1/reports", 429, "rate_limited", headers={"Retry-After": "600"})
    outcome = agent.uploader.flush()
    assert outcome.retry_at is not None
    assert outcome.retry_at - START >= timedelta(seconds=600)


def test_a_collector_that_times_out_is_retried(tmp_path: Path, collector: ScriptedCollector) -> None:
    agent = Agent(tmp_path / "state", collector, timeout=0.3)
    ids = agent.put(1)
    agent.enroller.device_key()
    collector.then("/v1/reports", 200, delay=1.0)
    outcome = agent.uploader.flush()
    assert outcome.stopped_by is not None
    assert "ReadTimeout" in outcome.stopped_by
    assert agent.outbox.depth() == 1
    agent.clock.set(outcome.retry_at)
    assert agent.uploader.flush().delivered == 1
    assert collector.accepted == ids
    agent.close()


def test_bad_data_is_dead_lettered_not_retried_and_the_rest_still_goes(
    agent: Agent, collector: ScriptedCollector
) -> None:
    ids = agent.put(3)
    collector.then("/v1/reports", 422, "invalid_request")
    outcome = agent.uploader.flush()
    assert outcome.dead_lettered == 1
    assert outcome.delivered == 2
    assert collector.accepted == ids[1:]
    assert agent.outbox.depth() == 0
    assert agent.outbox.dead_letters() == 1
    assert collector.attempts.count(ids[0]) == 1  # never retried


def _flush_until_settled(agent: Agent, rounds: int) -> None:
    for _ in range(rounds):
        outcome = agent.uploader.flush()
        if outcome.retry_at is None:
            return
        agent.clock.set(outcome.retry_at)


def test_a_poisoned_report_is_dead_lettered_after_bounded_retries_and_later_reports_flow(
    agent: Agent, collector: ScriptedCollector
) -> None:
    ids = agent.put(3)
    collector.poisoned.add(ids[0])
    waits = []
    for _ in range(MAX_SERVER_ERRORS - 1):  # retried with backoff, the others wait behind it
        outcome = agent.uploader.flush()
        assert outcome.delivered == 0
        assert outcome.retry_at is not None
        waits.append(outcome.retry_at - agent.clock.now())
        agent.clock.set(outcome.retry_at)
    assert waits == sorted(waits)
    assert collector.accepted == []
    outcome = agent.uploader.flush()  # the tenth 500: the next report is tried, and accepted
    assert outcome.dead_lettered == 1
    assert outcome.delivered == 2
    assert collector.accepted == ids[1:]
    assert collector.attempts.count(ids[0]) == MAX_SERVER_ERRORS
    assert agent.outbox.depth() == 0
    assert agent.outbox.dead_letters() == 1
    # The loss is told to the collector with the next report, as a report_refused event.
    later = agent.put(1)
    assert agent.uploader.flush().delivered == 1
    assert collector.accepted == ids[1:] + later
    assert agent.outbox.pending_events() == 0
    stored = agent.db.read("SELECT reason FROM dead_letter")
    assert f"{MAX_SERVER_ERRORS} times" in str(stored[0][0])


def test_a_failing_collector_dead_letters_nothing(agent: Agent, collector: ScriptedCollector) -> None:
    ids = agent.put(3)
    collector.poisoned.update(ids)  # every report fails: the collector is broken, not one report
    for _ in range(3 * MAX_SERVER_ERRORS):
        outcome = agent.uploader.flush()
        assert outcome.dead_lettered == 0
        assert outcome.retry_at is not None
        agent.clock.set(outcome.retry_at)
    assert [str(i) for i in agent.outbox.report_ids()] == ids
    collector.poisoned.clear()
    _flush_until_settled(agent, 2)
    assert collector.accepted == ids
    assert agent.outbox.dead_letters() == 0


def test_network_failures_do_not_count_towards_dead_lettering(tmp_path: Path) -> None:
    with scripted_collector() as collector:
        agent = Agent(tmp_path / "state", collector)
        ids = agent.put(2)
        agent.enroller.device_key()
    # The collector is gone: connection refused, many times over.
    for _ in range(2 * MAX_SERVER_ERRORS):
        outcome = agent.uploader.flush()
        assert outcome.dead_lettered == 0
        agent.clock.set(outcome.retry_at)
    assert [str(i) for i in agent.outbox.report_ids()] == ids
    assert agent.outbox.next_batch(1)[0].server_errors == 0
    agent.close()


def test_rejected_key_means_enroll_again_and_retry(agent: Agent, collector: ScriptedCollector) -> None:
    agent.put(1)
    agent.uploader.flush()
    collector.revoke_keys()
    ids = agent.put(1)
    outcome = agent.uploader.flush()
    assert outcome.reenrolled
    assert outcome.delivered == 1
    assert collector.accepted[-1] == ids[0]
    assert collector.auth[-2:] == ["Bearer key-1", "Bearer key-2"]
    stored = agent.credentials.load()
    assert stored is not None
    assert stored.device_key == "key-2"


def test_duplicate_acknowledgement_counts_as_delivered(agent: Agent, collector: ScriptedCollector) -> None:
    ids = agent.put(1)
    collector.accepted.append(ids[0])  # as if delivered before a crash lost the ack
    agent.enroller.device_key()
    outcome = agent.uploader.flush()
    assert outcome.delivered == 1
    assert outcome.duplicates == 1
    assert agent.outbox.depth() == 0


def test_no_enroll_secret_keeps_reports_and_says_what_to_set(
    tmp_path: Path, collector: ScriptedCollector
) -> None:
    agent = Agent(tmp_path / "state", collector, secret=None)
    agent.put(2)
    outcome = agent.uploader.flush()
    assert outcome.stopped_by is not None
    assert "FLEETWARD_ENROLL_SECRET" in outcome.stopped_by
    assert agent.outbox.depth() == 2
    agent.close()


def test_refused_enroll_secret_is_a_clear_error(agent: Agent, collector: ScriptedCollector) -> None:
    collector.then("/v1/enroll", 401, "enroll_secret_invalid")
    with pytest.raises(EnrollmentError, match=r"enroll_secret_invalid.*deploy the current enroll secret"):
        agent.enroller.enroll()


def test_unreachable_collector_on_enroll_names_the_url(tmp_path: Path) -> None:
    client = CollectorClient("http://127.0.0.1:9", timeout=1)
    enroller = Enroller(
        collector_url="http://127.0.0.1:9",
        secret=lambda: "enroll-secret-1",
        identity=lambda: HOST,
        client=client,
        store=CredentialsFile(tmp_path),
        clock=ManualClock(START),
    )
    with pytest.raises(
        EnrollmentError, match=r"cannot reach the collector at http://127\.0\.0\.1:9/v1/enroll"
    ):
        enroller.enroll()


def test_identity_comes_from_osquery_not_from_this_machine(osqueryd: RecordedOsqueryd) -> None:
    runner = ThriftRunner([str(osqueryd.socket_path)], query_timeout=5)
    host = read_host(runner, practice="F81001")
    runner.close()
    assert host.platform == "windows"  # served from a Linux test machine
    assert host.hostname == "GP-LAPTOP-017"
    assert host.uuid == "4C4C4544-0042-3510-8052-B4C04F4E3232"
    assert host.os_version == "10.0.26100.8655"
    assert host.practice == "F81001"
