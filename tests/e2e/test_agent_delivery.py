"""The agent against the real collector process over HTTP: a week offline, a flaky network in
between (5xx, stalls, lost answers), and bad data refused for good."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.agent.collector_process import CollectorProcess, FlakyProxy
from tests.agent.laptop import BITLOCKER, Laptop, bitlocker_off, compliant, hour_start

pytestmark = pytest.mark.slow


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEETWARD_CONFIG_FILE", str(tmp_path / "agent.toml"))
    (tmp_path / "agent.toml").write_text("")


def test_a_week_offline_is_delivered_on_reconnect_in_order_exactly_once(
    tmp_path: Path, collector: CollectorProcess, env: None
) -> None:
    start = hour_start(datetime.now(UTC) - timedelta(days=8))
    laptop = Laptop(tmp_path / "state", collector.url, collector.enroll_secret(), start)
    laptop.cycle()  # online: enrolled, first snapshot delivered
    assert len(collector.ingested()) == 1
    collector.stop()  # the laptop leaves the network

    bitlocker_off_at = start + timedelta(days=2, hours=1)
    bitlocker_on_at = start + timedelta(days=4, hours=7)
    for hour in range(1, 7 * 24 + 1):
        laptop.clock.set(start + timedelta(hours=hour))
        if laptop.clock.now() == bitlocker_off_at:
            laptop.becomes(bitlocker_off())
        if laptop.clock.now() == bitlocker_on_at:
            laptop.becomes(compliant())
        laptop.cycle()
    waiting = laptop.agent.outbox.depth()
    assert waiting == len(laptop.written) - 1  # nothing delivered, nothing lost
    assert waiting >= 7 * 4 + 2  # a heartbeat every 6 h plus the two transitions

    collector.start()  # back online, same collector
    laptop.drain()
    ingested = collector.ingested()
    assert [row[0] for row in ingested] == laptop.written  # everything, in order, once
    assert collector.runs(BITLOCKER) == [
        ("pass", start),
        ("fail", bitlocker_off_at),
        ("pass", bitlocker_on_at),
    ]
    laptop.close()


@pytest.fixture
def proxied(tmp_path: Path, collector: CollectorProcess, env: None) -> Iterator[tuple[Laptop, FlakyProxy]]:
    proxy = FlakyProxy(collector.url)
    laptop = Laptop(
        tmp_path / "state",
        proxy.url,
        collector.enroll_secret(),
        hour_start(datetime.now(UTC) - timedelta(days=2)),
        http_timeout_seconds=0.5,
    )
    yield laptop, proxy
    laptop.close()
    proxy.stop()


def test_5xx_is_retried_after_backoff(
    proxied: tuple[Laptop, FlakyProxy], collector: CollectorProcess
) -> None:
    laptop, proxy = proxied
    proxy.plan = ["5xx", "5xx"]
    laptop.cycle()
    assert laptop.agent.outbox.depth() == 1
    uploader = laptop.agent.service.uploader
    assert uploader is not None
    assert uploader.retry_at is not None
    assert laptop.agent.service.flush_step() is not None  # not due yet: nothing sent
    assert proxy.plan == ["5xx"]
    laptop.clock.set(uploader.retry_at)
    laptop.agent.service.flush_step()  # the second 503: backs off further
    assert laptop.agent.outbox.depth() == 1
    laptop.clock.set(uploader.retry_at)
    laptop.agent.service.flush_step()
    assert [row[0] for row in collector.ingested()] == laptop.written


def test_a_stalled_collector_times_out_and_is_retried_without_a_duplicate_record(
    proxied: tuple[Laptop, FlakyProxy], collector: CollectorProcess
) -> None:
    laptop, proxy = proxied
    proxy.plan, proxy.stall_seconds = ["stall"], 1.5
    laptop.cycle()
    result = laptop.agent.outbox.depth()
    assert result == 1  # timed out: kept
    uploader = laptop.agent.service.uploader
    assert uploader is not None
    assert uploader.retry_at is not None
    laptop.clock.set(uploader.retry_at)
    laptop.drain()
    import time

    time.sleep(proxy.stall_seconds)  # let the stalled request reach the collector too
    assert [row[0] for row in collector.ingested()] == laptop.written


def test_a_lost_answer_means_a_duplicate_delivery_that_creates_no_duplicate_record(
    proxied: tuple[Laptop, FlakyProxy], collector: CollectorProcess
) -> None:
    laptop, proxy = proxied
    proxy.plan = ["lose-answer"]
    laptop.cycle()
    assert [row[0] for row in collector.ingested()] == laptop.written  # ingested, but the agent never heard
    assert laptop.agent.outbox.depth() == 1
    uploader = laptop.agent.service.uploader
    assert uploader is not None
    assert uploader.retry_at is not None
    laptop.clock.set(uploader.retry_at)
    laptop.drain()
    assert laptop.agent.outbox.depth() == 0
    assert [row[0] for row in collector.ingested()] == laptop.written  # still once
    assert len(collector.runs(BITLOCKER)) == 1


def test_bad_data_is_refused_once_dead_lettered_and_the_next_report_still_goes(
    proxied: tuple[Laptop, FlakyProxy], collector: CollectorProcess
) -> None:
    laptop, proxy = proxied
    now = laptop.clock.now()
    laptop.clock.set(
        datetime.now(UTC) + timedelta(days=3)
    )  # a laptop clock days ahead: observed in the future
    laptop.cycle()
    assert laptop.agent.outbox.depth() == 0
    assert laptop.agent.outbox.dead_letters() == 1
    assert collector.ingested() == []
    seen = proxy.seen
    laptop.agent.service.flush_step(force=True)
    assert proxy.seen == seen  # not retried
    laptop.clock.set(now)
    laptop.becomes(bitlocker_off())
    laptop.cycle()
    assert [row[0] for row in collector.ingested()] == laptop.written[1:]
