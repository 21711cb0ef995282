"""The service's evaluate-and-record step against the real catalogue, served by the real Thrift
fake osqueryd from the shipped recorded devices: drift, heartbeat, and osquery misbehaving."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent.compose import Agent, build_agent
from agent.settings import AgentSettings
from fleetward.clock import ManualClock
from fleetward.policy.verdict import Status
from fleetward.recorded import RecordedDevice, load_device
from fleetward.recorded.model import default_devices_dir
from fleetward.wire import EventKind, ReportKind
from tests.support.osquery_server import RecordedOsqueryd, short_socket_path

BITLOCKER = "encryption-windows-bitlocker"


def compliant_windows() -> RecordedDevice:
    # Recorded on 15 Nov 2026, when the shipped Windows baseline (feed to June 2026) is stale; these
    # tests are about the service, so the laptop lives on 1 Jul 2026, when it holds June's floor.
    device = load_device(default_devices_dir() / "win11-25h2-ent-compliant.yaml")
    return device.model_copy(update={"recorded_at": datetime(2026, 7, 1, 9, tzinfo=UTC)})


def with_bitlocker_off(device: RecordedDevice) -> RecordedDevice:
    rows = [{**row, "protection_status": "0"} for row in device.rows("bitlocker_info")]
    return device.with_changes(tables={"bitlocker_info": rows})


class Laptop:
    """A recorded laptop behind a socket whose osqueryd can be swapped, and the agent on it."""

    def __init__(self, state: Path, device: RecordedDevice, **settings: object) -> None:
        self.socket = short_socket_path()
        self.osqueryd = RecordedOsqueryd(device, self.socket).start()
        self.clock = ManualClock(device.recorded_at)
        self.settings = AgentSettings(
            config_file=None,
            state_dir=state,
            osquery_sockets=[str(self.socket)],
            query_timeout_seconds=settings.pop("query_timeout_seconds", 5),
            **settings,
        )
        self.agent: Agent = build_agent(self.settings, clock=self.clock)

    def becomes(self, device: RecordedDevice) -> None:
        self.osqueryd.stop()
        self.osqueryd = RecordedOsqueryd(device, self.socket).start()

    def reports(self) -> list:
        return [entry.report for entry in self.agent.outbox.next_batch(1000)]

    def close(self) -> None:
        self.agent.close()
        self.osqueryd.stop()


@pytest.fixture
def laptop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Laptop]:
    monkeypatch.setenv("FLEETWARD_CONFIG_FILE", str(tmp_path / "none.toml"))
    (tmp_path / "none.toml").write_text("")
    machine = Laptop(tmp_path / "state", compliant_windows())
    yield machine
    machine.close()


def test_first_evaluation_writes_a_full_snapshot_and_remembers_the_state(laptop: Laptop) -> None:
    outcome = laptop.agent.service.evaluate_step()
    assert outcome.evaluation is not None
    assert outcome.evaluation.host.platform == "windows"
    [snapshot] = laptop.reports()
    assert snapshot.kind is ReportKind.SNAPSHOT
    statuses = {r.policy_id: r.status for r in snapshot.results}
    assert statuses[BITLOCKER] is Status.PASS
    assert len(snapshot.results) == len(laptop.agent.service.evaluator.catalogue.policies)
    assert laptop.agent.service.states.load()[BITLOCKER][0] is Status.PASS


def test_nothing_changed_means_no_report_until_the_heartbeat(laptop: Laptop) -> None:
    laptop.agent.service.evaluate_step()
    laptop.clock.advance(timedelta(hours=1))
    assert laptop.agent.service.evaluate_step().report is None
    laptop.clock.advance(timedelta(hours=5))  # 6 h since the snapshot: the heartbeat is due
    report = laptop.agent.service.evaluate_step().report
    assert report is not None
    assert report.kind is ReportKind.SNAPSHOT


def test_drift_is_reported_at_once_as_a_transition_of_just_that_policy(laptop: Laptop) -> None:
    laptop.agent.service.evaluate_step()
    laptop.becomes(with_bitlocker_off(compliant_windows()))
    laptop.clock.advance(timedelta(hours=1))
    outcome = laptop.agent.service.evaluate_step()
    assert outcome.report is not None
    assert outcome.report.kind is ReportKind.TRANSITION
    assert [(r.policy_id, r.status) for r in outcome.report.results] == [(BITLOCKER, Status.FAIL)]
    assert outcome.report.policy_versions.keys() == {BITLOCKER}


def test_a_failing_table_is_an_error_never_a_pass(laptop: Laptop) -> None:
    laptop.osqueryd.fail_queries("Error executing WMI query", matching="bitlocker_info")
    outcome = laptop.agent.service.evaluate_step()
    assert outcome.evaluation is not None
    result = next(r for r in outcome.evaluation.results if r.policy_id == BITLOCKER)
    assert result.status is Status.ERROR
    assert result.error is not None
    assert "WMI" in result.error


def test_a_hung_query_times_out_and_the_other_policies_still_run(tmp_path: Path, laptop: Laptop) -> None:
    laptop.close()
    machine = Laptop(tmp_path / "state2", compliant_windows(), query_timeout_seconds=0.3)
    machine.osqueryd.hang_queries(matching="bitlocker_info")
    outcome = machine.agent.service.evaluate_step()
    machine.osqueryd.release()
    assert outcome.evaluation is not None
    statuses = {r.policy_id: r.status for r in outcome.evaluation.results}
    assert statuses[BITLOCKER] is Status.ERROR
    assert statuses["firewall-windows-on"] is Status.PASS
    machine.close()


def test_the_evaluation_deadline_bounds_a_hang_the_query_timeout_does_not(
    tmp_path: Path, laptop: Laptop
) -> None:
    laptop.close()
    machine = Laptop(
        tmp_path / "state2", compliant_windows(), query_timeout_seconds=60, evaluation_deadline_seconds=0.5
    )
    machine.osqueryd.hang_queries(matching="bitlocker_info")
    outcome = machine.agent.service.evaluate_step()
    machine.osqueryd.release()
    assert outcome.evaluation is not None
    assert not outcome.evaluation.complete
    stuck = next(r for r in outcome.evaluation.results if r.policy_id == BITLOCKER)
    assert stuck.status is Status.ERROR
    assert stuck.error is not None
    assert "deadline" in stuck.error
    machine.close()


def test_osqueryd_restarting_mid_run_loses_no_verdict(laptop: Laptop) -> None:
    laptop.osqueryd.crash_after(4, down_for=0.2)
    outcome = laptop.agent.service.evaluate_step()
    assert outcome.evaluation is not None
    assert laptop.osqueryd.restarts == 1
    assert {r.status for r in outcome.evaluation.results} <= {Status.PASS, Status.NOT_APPLICABLE}, [
        (r.policy_id, r.error) for r in outcome.evaluation.results if r.status is Status.ERROR
    ]


def test_osquery_gone_is_recorded_once_and_told_to_the_collector(laptop: Laptop) -> None:
    laptop.agent.service.evaluate_step()
    laptop.osqueryd.stop()
    first = laptop.agent.service.evaluate_step()
    assert first.problem is not None
    assert str(laptop.socket) in first.problem
    laptop.agent.service.evaluate_step()  # still down: not recorded again
    assert laptop.agent.outbox.pending_events() == 1
    laptop.osqueryd = RecordedOsqueryd(compliant_windows(), laptop.socket).start()
    laptop.clock.advance(timedelta(hours=1))
    report = laptop.agent.service.evaluate_step().report
    assert report is not None  # nothing changed, but the event goes at once
    assert [e.kind for e in report.events] == [EventKind.OSQUERY_UNAVAILABLE]


def test_status_keeps_each_baseline_provenance_of_the_last_evaluation(laptop: Laptop) -> None:
    from agent.status import read_status

    laptop.agent.service.evaluate_step()
    current = read_status(
        laptop.agent.db,
        version="test",
        device_id=None,
        collector_url=None,
        active_bundle="the catalogue installed with the agent",
        database_path=str(laptop.agent.db.path),
    )
    [windows] = current.baselines
    assert windows["baseline"] == "windows"
    assert windows["state"] == "fresh"
    assert windows["newest_floor"] == "2026-06-09"
    assert "DFG-WIN-2026-06-23" in windows["sources"]
