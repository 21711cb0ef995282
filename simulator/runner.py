"""Drive the simulated laptops through the real agent against a real collector over HTTP.

Each laptop is the agent's own composition (`agent.compose.build_agent`): its evaluator runs the
catalogue over the laptop's recorded tables, its outbox is a SQLite file, its uploader speaks HTTP
to the collector. Only osqueryd is replaced, by the recorded-device engine, and time is a
ManualClock the simulator moves.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from agent.osquery.recorded import RecordedRunner
from fleetward.clock import ManualClock
from fleetward.platform import Platform
from fleetward.policy.catalogue import Catalogue
from fleetward.policy.verdict import Result
from fleetward.recorded.engine import RecordedEngine
from fleetward.recorded.model import RecordedDevice
from fleetward.wire import Report
from simulator.plan import SimDevice, SimulationPlan, WaiverPlan
from simulator.state import device_state

if TYPE_CHECKING:
    from agent.compose import Agent

Progress = Callable[[int, int, str], None]


class AdminClient:
    """The platform team's side: enroll secrets per practice and waivers, over the admin API."""

    def __init__(self, base_url: str, token: str) -> None:
        self._http = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)

    def enroll_secret(self, practice: str, expires_in: timedelta) -> tuple[str, str]:
        """A new enroll secret for the practice: (its id, the secret)."""
        body = {
            "name": f"simulated {practice}",
            "practice": practice,
            "expires_in": _iso_duration(expires_in),
        }
        response = self._http.post("/v1/admin/enroll-secrets", json=body)
        _raise_for(response, "create an enroll secret")
        issued = response.json()
        return str(issued["id"]), str(issued["secret"])

    def revoke_enroll_secret(self, secret_id: str) -> None:
        response = self._http.post(f"/v1/admin/enroll-secrets/{secret_id}/revoke")
        _raise_for(response, "revoke an enroll secret")

    def grant_waiver(self, body: dict[str, object]) -> str:
        response = self._http.post("/v1/waivers", json=body)
        _raise_for(response, "grant a waiver")
        return str(response.json()["id"])

    def device_id_for(self, hostname: str, practice: str) -> str | None:
        params: dict[str, str | int] = {"practice": practice, "limit": 1000}
        while True:
            response = self._http.get("/v1/devices", params=params)
            _raise_for(response, "list devices")
            page = response.json()
            for item in page["devices"]:
                if item["hostname"] == hostname:
                    return str(item["device_id"])
            if not page.get("next_cursor"):
                return None
            params["cursor"] = page["next_cursor"]

    def close(self) -> None:
        self._http.close()


class SimulationError(RuntimeError):
    pass


def _raise_for(response: httpx.Response, what: str) -> None:
    if response.status_code >= 400:
        raise SimulationError(
            f"the collector refused to {what}: HTTP {response.status_code} {response.text[:300]}"
        )


def _iso_duration(delta: timedelta) -> str:
    return f"P{delta.days}D"


@dataclass
class DeviceTruth:
    """What the simulator itself saw: the ground truth the reports are checked against."""

    last_reported: datetime | None = None
    results: dict[str, Result] = field(default_factory=dict)
    failing_since: dict[str, datetime] = field(default_factory=dict)


@dataclass
class _Laptop:
    plan: SimDevice
    template: RecordedDevice
    state_dir: Path
    agent: Agent | None = None
    engine_key: str = ""
    engine: RecordedEngine | None = None


class FleetSimulation:
    def __init__(
        self,
        plan: SimulationPlan,
        *,
        templates: dict[str, RecordedDevice],
        catalogue: Catalogue,
        collector_url: str,
        admin_token: str,
        clock: ManualClock,
        work_dir: Path,
        keep_reports: bool = False,
        collector_now: Callable[[], datetime] | None = None,
    ) -> None:
        """`collector_now`: the collector's own clock when it is not the simulated one (a live
        collector): it refuses waivers that expire before it, so those are skipped and noted."""
        self.plan = plan
        # Every report the agents wrote, for the storage benchmark's full-history counterfactual.
        self.reports: list[Report] | None = [] if keep_reports else None
        self.catalogue = catalogue
        self.collector_url = collector_url.rstrip("/")
        self.clock = clock
        self.admin = AdminClient(self.collector_url, admin_token)
        self.truth: dict[int, DeviceTruth] = {d.index: DeviceTruth() for d in plan.devices}
        self.secrets: dict[str, str] = {}
        self._secret_ids: list[str] = []
        self.granted: list[WaiverPlan] = []
        self.skipped_waivers: list[str] = []
        self._collector_now = collector_now
        self.reports_delivered = 0
        self._laptops = {
            d.index: _Laptop(d, templates[d.template], work_dir / f"laptop-{d.index:04d}")
            for d in plan.devices
        }

    def run(self, progress: Progress | None = None) -> None:
        self.clock.set(self.plan.start)
        for practice in self.plan.practices:
            secret_id, self.secrets[practice] = self.admin.enroll_secret(
                practice, timedelta(days=self.plan.days + 30)
            )
            self._secret_ids.append(secret_id)
        total = self.plan.days
        for day in range(self.plan.days):
            for slot, at in enumerate(self.plan.check_ins(day)):
                self.clock.set(at)
                if slot == 0:
                    self._grant_waivers(day)
                for laptop in self._laptops.values():
                    self._check_in(laptop, day, slot, at)
            if progress:
                progress(day + 1, total, f"day {day + 1}/{total}")
        self.clock.set(self.plan.end)
        # The laptops have enrolled: leave no live enroll secret behind.
        for secret_id in self._secret_ids:
            self.admin.revoke_enroll_secret(secret_id)

    def close(self) -> None:
        for laptop in self._laptops.values():
            if laptop.agent is not None:
                laptop.agent.close()
            if laptop.engine is not None:
                laptop.engine.close()
        self.admin.close()

    def _check_in(self, laptop: _Laptop, day: int, slot: int, at: datetime) -> None:
        device = laptop.plan
        if device.silent_from_day is not None and day >= device.silent_from_day:
            return
        if device.reenroll_day == day and slot == 0 and laptop.agent is not None:
            self._reimage(laptop)
        agent = laptop.agent or self._start_agent(laptop)
        self._refresh_engine(laptop, at)
        outcome = agent.service.evaluate_step()
        if self.reports is not None and outcome.report is not None:
            self.reports.append(outcome.report)
        if outcome.evaluation is not None:
            self._observe(device.index, outcome.evaluation.results, at)
        offline = device.offline is not None and device.offline[0] <= day < device.offline[1]
        if not offline:
            flushed = agent.service.flush_step(force=True)
            if flushed is not None:
                self.reports_delivered += flushed.delivered

    def _start_agent(self, laptop: _Laptop) -> Agent:
        from agent.compose import build_agent
        from agent.settings import AgentSettings

        settings = AgentSettings(
            collector_url=self.collector_url,
            enroll_secret=self.secrets[laptop.plan.practice],
            state_dir=laptop.state_dir,
            practice=laptop.plan.practice,
            heartbeat_minutes=24 * 60,
            evaluation_deadline_seconds=30,
        )

        def runner() -> RecordedRunner:
            assert laptop.engine is not None
            return RecordedRunner(laptop.engine)

        laptop.agent = build_agent(settings, clock=self.clock, catalogue=self.catalogue, runner=runner)
        return laptop.agent

    def _reimage(self, laptop: _Laptop) -> None:
        """The laptop is rebuilt: the agent's state is gone, the hardware is the same."""
        assert laptop.agent is not None
        laptop.agent.close()
        laptop.agent = None
        shutil.rmtree(laptop.state_dir, ignore_errors=True)

    def _refresh_engine(self, laptop: _Laptop, at: datetime) -> None:
        state = device_state(laptop.plan, laptop.template, self.plan, at)
        key = state.model_dump_json(include={"tables", "errors"})
        if key != laptop.engine_key:
            if laptop.engine is not None:
                laptop.engine.close()
            laptop.engine = RecordedEngine(state)
            laptop.engine_key = key

    def _observe(self, index: int, results: list[Result], at: datetime) -> None:
        truth = self.truth[index]
        truth.last_reported = at
        for result in results:
            previous = truth.results.get(result.policy_id)
            truth.results[result.policy_id] = result
            failing = result.status.value in ("fail", "error")
            was_failing = previous is not None and previous.status.value in ("fail", "error")
            if failing and not was_failing:
                truth.failing_since[result.policy_id] = at
            elif not failing:
                truth.failing_since.pop(result.policy_id, None)

    def _grant_waivers(self, day: int) -> None:
        for waiver in self.plan.waivers:
            if waiver.grant_day != day:
                continue
            expires_at = self.plan.start + timedelta(days=waiver.expires_day)
            if self._collector_now is not None and expires_at <= self._collector_now():
                self.skipped_waivers.append(
                    f"waiver for {waiver.policy_id} not granted: it would expire on {expires_at.date()}, "
                    "before the collector's clock (a waiver must expire in the future)"
                )
                continue
            body: dict[str, object] = {
                "policy_id": waiver.policy_id,
                "justification": waiver.justification,
                "owner": waiver.owner,
                "expires_at": expires_at.isoformat(),
            }
            if waiver.device_index is not None:
                laptop = self._laptops[waiver.device_index].plan
                device_id = self.admin.device_id_for(laptop.hostname, laptop.practice)
                if device_id is None:
                    continue  # not enrolled yet (offline or silent): nothing to waive
                body["device_id"] = device_id
            else:
                body["practice"] = waiver.practice
            self.admin.grant_waiver(body)
            self.granted.append(waiver)

    def platform_of(self, device: SimDevice) -> Platform:
        return self._laptops[device.index].template.platform

    def waived(self, device: SimDevice, policy_id: str, at: datetime) -> bool:
        """Whether a waiver this simulation granted covers the device's policy at `at`."""
        for waiver in self.granted:
            if waiver.policy_id != policy_id:
                continue
            expires = self.plan.start + timedelta(days=waiver.expires_day)
            granted = self.plan.start + timedelta(days=waiver.grant_day)
            covers = waiver.device_index == device.index or (
                waiver.practice is not None and waiver.practice == device.practice
            )
            if covers and granted <= at < expires:
                return True
        return False
