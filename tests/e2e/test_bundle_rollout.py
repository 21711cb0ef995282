"""The monthly baseline, end to end: the platform team builds, signs and publishes the November
bundle with the `fleetward` CLI to the real collector over HTTP on loopback; a laptop (the real
agent, osquery over the real Thrift socket) that passed the Windows patch policy under the October
bundle picks November up on its next check and fails; the collector records that transition
against the November bundle, and auditors see which bundle was in force when."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from agent.compose import build_agent
from agent.settings import AgentSettings
from collector.store.credentials import Hasher, Role, create_api_token, create_enroll_secret
from collector.store.engine import Database
from collector.store.migrate import upgrade_to_head
from collector.store.models import AgentEventRow, IngestedReport, StatusRun
from fleetward.bundle.keys import SigningKey
from fleetward.cli import app
from fleetward.clock import ManualClock
from fleetward.recorded import load_device
from fleetward.recorded.model import default_devices_dir
from simulator.server import InProcessCollector
from tests.support.bundles import WINDOWS_PATCH, add_november_floor, catalogue_copy
from tests.support.osquery_server import RecordedOsqueryd, short_socket_path

pytestmark = pytest.mark.slow
cli = CliRunner()
OCTOBER, NOVEMBER = 20261014000000, 20261114000000


class Estate:
    """The collector with an admin token and an enroll secret, and the platform team's key."""

    def __init__(self, folder: Path, clock: ManualClock) -> None:
        self.folder = folder
        self.url = f"sqlite:///{folder / 'collector.sqlite3'}"
        upgrade_to_head(self.url)
        self.db = Database.from_url(self.url)
        with self.db.write() as session:
            now = clock.now()
            self.admin = create_api_token(
                session, Hasher(), name="platform team", role=Role.ADMIN, now=now, created_by="e2e"
            ).secret
            self.auditor = create_api_token(
                session, Hasher(), name="auditor", role=Role.AUDITOR, now=now, created_by="e2e"
            ).secret
            self.enroll_secret = create_enroll_secret(
                session,
                Hasher(),
                name="e2e",
                practice=None,
                expires_at=now + timedelta(days=90),
                now=now,
                created_by="e2e",
            ).secret
        self.key_file = folder / "platform-team.pem"
        result = cli.invoke(app, ["keys", "generate", "--out", str(self.key_file)])
        assert result.exit_code == 0, result.output
        self.public_key = SigningKey.read(self.key_file).public

    def release(self, catalogue: Path, version: int, collector_url: str) -> None:
        """The monthly routine: build (lints first), sign, verify, publish."""
        bundle = self.folder / f"policy-bundle-{version}.json"
        steps = [
            [
                "policies",
                "bundle",
                "build",
                "--policies",
                str(catalogue),
                "--version",
                str(version),
                "--out",
                str(bundle),
            ],
            ["policies", "bundle", "sign", "--key", str(self.key_file), str(bundle)],
            ["policies", "bundle", "verify", "--trusted-key", self.public_key.text, str(bundle)],
            [
                "policies",
                "bundle",
                "publish",
                "--collector",
                collector_url,
                "--token",
                self.admin,
                str(bundle),
            ],
        ]
        for step in steps:
            result = cli.invoke(app, step)
            assert result.exit_code == 0, (step[2], result.output)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(load_device(default_devices_dir() / "win11-25h2-ent-compliant.yaml").recorded_at)


@pytest.fixture
def estate(tmp_path: Path, clock: ManualClock) -> Iterator[Estate]:
    estate = Estate(tmp_path, clock)
    yield estate
    estate.db.dispose()


def test_a_new_baseline_month_reaches_the_laptop_and_its_failure_is_recorded_against_the_bundle(
    tmp_path: Path, estate: Estate, clock: ManualClock
) -> None:
    october = catalogue_copy(tmp_path / "october")
    november = catalogue_copy(tmp_path / "november")
    add_november_floor(november)
    device = load_device(default_devices_dir() / "win11-25h2-ent-compliant.yaml")
    socket = short_socket_path()
    osqueryd = RecordedOsqueryd(device, socket).start()
    (tmp_path / "agent.toml").write_text("")
    with InProcessCollector(estate.url, clock) as collector:
        agent = build_agent(
            AgentSettings(
                config_file=tmp_path / "agent.toml",
                state_dir=tmp_path / "laptop",
                osquery_sockets=[str(socket)],
                collector_url=collector.url,
                enroll_secret=estate.enroll_secret,
                trusted_bundle_keys=[estate.public_key.text],
            ),
            clock=clock,
        )
        try:

            def cycle() -> None:  # what AgentLoop does each interval
                clock.advance(timedelta(hours=1))
                agent.service.bundle_step()
                agent.service.evaluate_step()
                agent.service.flush_step(force=True)

            estate.release(october, OCTOBER, collector.url)
            cycle()  # enrolls and delivers its first snapshot; the bundle is checked next cycle
            cycle()
            assert agent.service.bundle_version == OCTOBER
            cycle()

            estate.release(november, NOVEMBER, collector.url)
            cycle()
            assert agent.service.bundle_version == NOVEMBER
            assert agent.outbox.depth() == 0

            http = httpx.Client(base_url=collector.url, headers={"Authorization": f"Bearer {estate.auditor}"})
            device_id = agent.enroller.current().device_id  # type: ignore[union-attr]
            history = http.get(f"/v1/devices/{device_id}/history", params={"policy": WINDOWS_PATCH}).json()
            bundles = http.get("/v1/policies/bundles").json()
            report = http.get("/v1/reports/json").json()
            http.close()
        finally:
            agent.close()
            osqueryd.stop()

    statuses = [run["status"] for run in history["runs"]]
    assert statuses[-3:] == ["error", "pass", "fail"]
    failed = history["runs"][-1]
    assert failed["since"].startswith(clock.now().isoformat()[:19])
    assert "26200.8900" in str(failed["evidence"])  # the November floor is the evidence

    with estate.db.read() as session:
        bundle_of = dict(
            session.execute(select(IngestedReport.report_id, IngestedReport.bundle_version)).all()
        )
        runs = session.scalars(
            select(StatusRun).where(StatusRun.policy_id == WINDOWS_PATCH).order_by(StatusRun.since)
        ).all()
        events = session.scalars(
            select(AgentEventRow.message).where(AgentEventRow.kind == "bundle_activated")
        ).all()
    stale, passing, failing = runs[-3], runs[-2], runs[-1]
    assert (stale.status, passing.status, failing.status) == ("error", "pass", "fail")
    # First seen under the catalogue the agent shipped with, whose Windows baseline ends at June 2026:
    # on 15 Nov 2026 that is a stale-baseline error, not the pass it used to be.
    assert bundle_of[stale.report_id] is None
    assert stale.error is not None
    assert "baseline 'windows' is stale" in stale.error
    assert bundle_of[passing.report_id] == OCTOBER  # October's bundle holds the floors: a verdict
    assert bundle_of[failing.report_id] == NOVEMBER  # the transition, recorded against November
    assert any(str(OCTOBER) in e for e in events)
    assert any(str(NOVEMBER) in e for e in events)

    assert [(b["version"], b["in_force_until"] is None) for b in bundles] == [
        (OCTOBER, False),
        (NOVEMBER, True),
    ]
    assert bundles[0]["in_force_until"] == bundles[1]["published_at"]
    assert [(b["version"], b["in_force"]) for b in report["bundles"]] == [(OCTOBER, False), (NOVEMBER, True)]


def test_publish_refusals_are_clear_and_have_their_exit_statuses(
    tmp_path: Path, estate: Estate, clock: ManualClock
) -> None:
    bundle = tmp_path / "bundle.json"
    built = cli.invoke(app, ["policies", "bundle", "build", "--version", "5", "--out", str(bundle)])
    assert built.exit_code == 0, built.output
    with InProcessCollector(estate.url, clock) as collector:

        def publish(token: str) -> tuple[int, str]:
            result = cli.invoke(
                app,
                [
                    "policies",
                    "bundle",
                    "publish",
                    "--collector",
                    collector.url,
                    "--token",
                    token,
                    str(bundle),
                ],
            )
            return result.exit_code, result.output

        code, output = publish(estate.admin)
        assert code == 1
        assert "is not signed" in output

        cli.invoke(app, ["policies", "bundle", "sign", "--key", str(estate.key_file), str(bundle)])
        code, output = publish(estate.auditor)
        assert code == 2
        assert "needs an admin token" in output

        code, output = publish(estate.admin)
        assert code == 0, output
        assert "published bundle 5" in output
        assert "does not vouch" in output
        assert publish(estate.admin)[0] == 0  # the same bundle again: nothing changed

        older = tmp_path / "older.json"
        cli.invoke(app, ["policies", "bundle", "build", "--version", "4", "--out", str(older)])
        cli.invoke(app, ["policies", "bundle", "sign", "--key", str(estate.key_file), str(older)])
        result = cli.invoke(
            app,
            [
                "policies",
                "bundle",
                "publish",
                "--collector",
                collector.url,
                "--token",
                estate.admin,
                str(older),
            ],
        )
        assert result.exit_code == 1
        assert "bundle_not_newer" in result.output

    result = cli.invoke(
        app,
        ["policies", "bundle", "publish", "--collector", collector.url, "--token", estate.admin, str(bundle)],
    )
    assert result.exit_code == 2  # the collector is gone
    assert "cannot reach the collector" in result.output
