"""The agent catching up on a backlog in `POST /v1/reports/batch` requests, against the real
collector process over HTTP: drained in batches in order exactly once; a refused report inside a
batch dead-lettered alone; a batch refused as a whole, or a collector without the route, sent one
report per request; a lost answer and a collector killed mid-batch losing nothing acknowledged."""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fleetward.policy.verdict import Status
from fleetward.wire import ReportKind
from tests.agent.collector_process import BATCH, CollectorProcess, FlakyProxy
from tests.agent.laptop import BITLOCKER, Laptop, bitlocker_off, compliant, hour_start
from tests.agent.reports import report, result

pytestmark = pytest.mark.slow
SINGLE = "/v1/reports"
BATCH_SIZE = 8


@pytest.fixture
def proxy(collector: CollectorProcess) -> Iterator[FlakyProxy]:
    proxy = FlakyProxy(collector.url)
    yield proxy
    proxy.stop()


@pytest.fixture
def laptop(
    tmp_path: Path, collector: CollectorProcess, proxy: FlakyProxy, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Laptop]:
    monkeypatch.setenv("FLEETWARD_CONFIG_FILE", str(tmp_path / "agent.toml"))
    (tmp_path / "agent.toml").write_text("")
    start = hour_start(datetime.now(UTC) - timedelta(days=3))
    laptop = Laptop(
        tmp_path / "state", proxy.url, collector.enroll_secret(), start, upload_batch_size=BATCH_SIZE
    )
    laptop.cycle()  # online: enrolled, the first snapshot delivered on its own
    assert proxy.paths[-1] == SINGLE
    yield laptop
    laptop.close()


def toggling_backlog(laptop: Laptop, hours: int) -> int:
    """Offline for `hours`, BitLocker off and on again each hour: one transition per hour waits."""
    start = laptop.clock.now()
    for hour in range(1, hours + 1):
        laptop.clock.set(start + timedelta(hours=hour))
        laptop.becomes(bitlocker_off() if hour % 2 else compliant())
        laptop.offline_cycle()
    waiting = laptop.agent.outbox.depth()
    assert waiting == hours
    return waiting


def ingested_ids(collector: CollectorProcess) -> list[str]:
    return [row[0] for row in collector.ingested()]


def test_a_backlog_drains_in_batches_in_order_exactly_once(
    laptop: Laptop, collector: CollectorProcess, proxy: FlakyProxy
) -> None:
    waiting = toggling_backlog(laptop, 20)
    proxy.paths.clear()
    laptop.drain()
    assert proxy.paths == [BATCH] * math.ceil(waiting / BATCH_SIZE)
    assert ingested_ids(collector) == laptop.written
    assert [status for status, _ in collector.runs(BITLOCKER)] == ["pass", "fail"] * 10 + ["pass"]
    assert laptop.agent.outbox.dead_letters() == 0


def test_a_refused_report_inside_a_batch_is_dead_lettered_alone_and_the_others_are_stored(
    laptop: Laptop, collector: CollectorProcess, proxy: FlakyProxy
) -> None:
    toggling_backlog(laptop, 3)
    at = laptop.clock.now() + timedelta(minutes=1)
    twice = report(ReportKind.TRANSITION, at, result(BITLOCKER, Status.FAIL), result(BITLOCKER, Status.PASS))
    future = report(ReportKind.TRANSITION, datetime.now(UTC) + timedelta(days=3), result(BITLOCKER))
    for hostile in (twice, future):
        laptop.agent.outbox.put(hostile)
    laptop.clock.set(laptop.clock.now() + timedelta(hours=1))
    laptop.becomes(bitlocker_off())
    laptop.offline_cycle()
    proxy.paths.clear()
    laptop.drain()
    assert proxy.paths == [BATCH]  # one request: the refusals did not stop or split it
    assert ingested_ids(collector) == laptop.written  # every good report, in order
    assert laptop.agent.outbox.dead_letters() == 2
    assert laptop.agent.outbox.pending_events() == 2  # each refusal told with the next report
    laptop.clock.set(laptop.clock.now() + timedelta(hours=1))
    laptop.becomes(compliant())
    laptop.cycle()
    assert laptop.agent.outbox.pending_events() == 0
    assert ingested_ids(collector) == laptop.written


def test_a_batch_refused_as_a_whole_for_its_size_goes_again_one_report_per_request(
    laptop: Laptop, collector: CollectorProcess, proxy: FlakyProxy
) -> None:
    waiting = toggling_backlog(laptop, 6)
    collector.stop()  # restarted with a request limit one report fits and a batch does not
    sizes = [len(entry.body) for entry in laptop.agent.outbox.next_batch(waiting)]
    limit = max(1024, max(sizes) + 100)  # room for the largest report alone, not for all of them
    assert sum(sizes) > limit, sizes
    collector.settings["FLEETWARD_MAX_REQUEST_BYTES"] = str(limit)
    collector.start()
    proxy.paths.clear()
    laptop.drain()
    assert proxy.paths[0] == BATCH
    assert proxy.paths.count(SINGLE) == waiting
    assert ingested_ids(collector) == laptop.written
    assert laptop.agent.outbox.dead_letters() == 0


def test_a_collector_without_the_batch_route_gets_one_report_per_request(
    laptop: Laptop, collector: CollectorProcess, proxy: FlakyProxy
) -> None:
    waiting = toggling_backlog(laptop, 5)
    proxy.batch_plan = ["404"]
    proxy.paths.clear()
    laptop.drain()
    assert proxy.paths == [BATCH] + [SINGLE] * waiting
    assert ingested_ids(collector) == laptop.written
    toggling_backlog(laptop, 2)
    proxy.paths.clear()
    laptop.drain()
    assert proxy.paths == [SINGLE, SINGLE]  # not asked again
    assert ingested_ids(collector) == laptop.written


def test_a_lost_batch_answer_is_sent_again_and_stored_once(
    laptop: Laptop, collector: CollectorProcess, proxy: FlakyProxy
) -> None:
    waiting = toggling_backlog(laptop, 4)
    runs = len(collector.runs(BITLOCKER)) + waiting
    proxy.batch_plan = ["lose-answer"]  # stored, but the agent hears 504 ...
    proxy.plan = ["5xx"]  # ... and 503 to the report it then tries alone: it backs off
    proxy.paths.clear()
    result = laptop.agent.service.flush_step(force=True)
    assert result is not None
    assert result.delivered == 0
    assert ingested_ids(collector) == laptop.written
    assert laptop.agent.outbox.depth() == waiting  # nothing acknowledged that the agent did not hear
    again = laptop.agent.service.flush_step(force=True)
    assert again is not None
    assert (again.delivered, again.duplicates) == (waiting, waiting)
    assert proxy.paths == [BATCH, SINGLE, BATCH]
    assert ingested_ids(collector) == laptop.written  # still once each
    assert len(collector.runs(BITLOCKER)) == runs


class KillDuringBatch:
    """SIGKILL to the collector `delay` seconds after the `nth` batch request starts on its way."""

    def __init__(self, collector: CollectorProcess, nth: int, delay: float) -> None:
        self.nth, self.seen = nth, 0
        self.timer = threading.Timer(delay, collector.kill)

    def __call__(self) -> None:
        self.seen += 1
        if self.seen == self.nth:
            self.timer.start()


def test_a_collector_killed_mid_batch_loses_nothing_acknowledged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLEETWARD_CONFIG_FILE", str(tmp_path / "agent.toml"))
    (tmp_path / "agent.toml").write_text("")
    # Reports written far faster than a laptop's one an hour: no rate limit in the way.
    collector = CollectorProcess(
        tmp_path, device_rate_per_minute="1000000", device_rate_burst="100000"
    ).start()
    proxy = FlakyProxy(collector.url)
    secret = collector.enroll_secret()
    rng = random.Random(20261207)
    try:
        for trial in range(4):
            start = hour_start(datetime.now(UTC) - timedelta(days=60 - trial * 10))
            laptop = Laptop(tmp_path / f"laptop-{trial}", proxy.url, secret, start, upload_batch_size=4)
            written = [
                str(
                    laptop.agent.outbox.put(
                        report(
                            ReportKind.SNAPSHOT,
                            start + timedelta(hours=hour),
                            result(BITLOCKER, rng.choice([Status.PASS, Status.FAIL])),
                        )
                    ).report_id
                )
                for hour in range(24)
            ]
            killer = KillDuringBatch(collector, rng.randint(2, 5), rng.uniform(0.0, 0.05))
            proxy.before_batch = killer
            laptop.agent.service.flush_step(force=True)
            killer.timer.join()
            proxy.before_batch = None
            acknowledged = set(written) - {str(i) for i in laptop.agent.outbox.report_ids()}
            assert laptop.agent.outbox.dead_letters() == 0
            assert acknowledged, f"trial {trial}: the first batch was answered before the kill"
            assert laptop.agent.outbox.depth(), f"trial {trial}: the kill came after the backlog"
            assert acknowledged <= set(ingested_ids(collector)), f"trial {trial}: lost an acknowledged report"

            collector.start()
            laptop.drain()
            stored = ingested_ids(collector)
            assert [i for i in stored if i in set(written)] == written  # all, in order, once
            laptop.close()
    finally:
        proxy.stop()
        collector.stop()
