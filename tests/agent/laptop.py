"""A laptop for the end-to-end delivery tests: the real agent (`build_agent`) on a manual clock,
evaluating a recorded Windows 11 device served by a real osquery Thrift socket."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from agent.compose import Agent, build_agent
from agent.settings import AgentSettings
from fleetward.clock import ManualClock
from fleetward.recorded import RecordedDevice, load_device
from fleetward.recorded.model import default_devices_dir
from tests.support.osquery_server import RecordedOsqueryd, short_socket_path

BITLOCKER = "encryption-windows-bitlocker"


def compliant() -> RecordedDevice:
    return load_device(default_devices_dir() / "win11-25h2-ent-compliant.yaml")


def bitlocker_off() -> RecordedDevice:
    device = compliant()
    rows = [{**row, "protection_status": "0"} for row in device.rows("bitlocker_info")]
    return device.with_changes(tables={"bitlocker_info": rows})


class Laptop:
    def __init__(self, state: Path, url: str, secret: str, start: datetime, **extra: object) -> None:
        self.socket = short_socket_path()
        self.osqueryd = RecordedOsqueryd(compliant(), self.socket).start()
        self.clock = ManualClock(start)
        settings = AgentSettings(
            config_file=None,
            state_dir=state,
            osquery_sockets=[str(self.socket)],
            collector_url=url,
            enroll_secret=secret,
            **extra,
        )
        self.agent: Agent = build_agent(settings, clock=self.clock)
        self.written: list[str] = []

    def becomes(self, device: RecordedDevice) -> None:
        self.osqueryd.stop()
        self.osqueryd = RecordedOsqueryd(device, self.socket).start()

    def cycle(self) -> None:
        """What the loop does each interval: evaluate and record, then try to deliver at once."""
        outcome = self.agent.service.evaluate_step()
        if outcome.report is not None:
            self.written.append(str(outcome.report.report_id))
        self.agent.service.flush_step(force=True)

    def offline_cycle(self) -> None:
        """Evaluate and record with no network: the report waits in the outbox."""
        outcome = self.agent.service.evaluate_step()
        if outcome.report is not None:
            self.written.append(str(outcome.report.report_id))

    def drain(self) -> None:
        for _ in range(20):
            self.agent.service.flush_step(force=True)
            if self.agent.outbox.depth() == 0:
                return
        raise AssertionError(f"{self.agent.outbox.depth()} reports still waiting")

    def close(self) -> None:
        self.agent.close()
        self.osqueryd.stop()


def hour_start(instant: datetime) -> datetime:
    return instant.replace(minute=0, second=0, microsecond=0)
