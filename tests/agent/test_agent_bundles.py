"""The agent and policy bundles: the real agent (real Thrift osqueryd fake, real HTTP) picks up a
valid newer bundle on its next check and reports its version; a tampered, untrusted, replayed or
truncated bundle is refused, reported as an event, and the agent keeps evaluating with its last
good bundle; key rotation; the bundle on disk is verified again at start-up; the starter bundle."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.compose import Agent, build_agent
from agent.errors import SettingsError
from agent.settings import AgentSettings
from fleetward.bundle.keys import SigningKey
from fleetward.clock import ManualClock
from fleetward.policy.verdict import Status
from fleetward.recorded import load_device
from fleetward.recorded.model import default_devices_dir
from fleetward.wire import EventKind, Report
from tests.agent.bundle_collector import BundleCollector
from tests.support.bundles import WINDOWS_PATCH, add_november_floor, catalogue_copy, signed_bundle
from tests.support.osquery_server import RecordedOsqueryd, short_socket_path

OCTOBER, NOVEMBER = 20261014000000, 20261114000000


@pytest.fixture(scope="module")
def team_key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture(scope="module")
def october(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped catalogue (without freshness): the laptop (26200.8655) passes the Windows patch policy."""
    return catalogue_copy(tmp_path_factory.mktemp("october") / "policies")


@pytest.fixture(scope="module")
def november(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The next baseline month: a floor above the laptop's build, so it fails."""
    catalogue = catalogue_copy(tmp_path_factory.mktemp("november") / "policies")
    add_november_floor(catalogue)
    return catalogue


@pytest.fixture
def collector() -> Iterator[BundleCollector]:
    server = BundleCollector().start()
    yield server
    server.stop()


class Laptop:
    def __init__(self, folder: Path, url: str | None, trusted: list[SigningKey]) -> None:
        device = load_device(default_devices_dir() / "win11-25h2-ent-compliant.yaml")
        self.folder = folder
        self.socket = short_socket_path()
        self.osqueryd = RecordedOsqueryd(device, self.socket).start()
        self.clock = ManualClock(device.recorded_at)
        self.url = url
        self.agent = self._build(trusted)

    def _build(self, trusted: list[SigningKey]) -> Agent:
        settings = AgentSettings(
            config_file=self.folder / "agent.toml",
            state_dir=self.folder / "state",
            osquery_sockets=[str(self.socket)],
            collector_url=self.url,
            enroll_secret="enroll-secret-for-tests" if self.url else None,
            trusted_bundle_keys=[k.public.text for k in trusted],
        )
        agent = build_agent(settings, clock=self.clock)
        if agent.enroller is not None:
            agent.enroller.enroll()
        return agent

    def restart(self, trusted: list[SigningKey]) -> None:
        self.agent.close()
        self.agent = self._build(trusted)

    def evaluate(self) -> Report:
        """One loop cycle: the bundle check, then evaluate-and-record (a snapshot every time)."""
        self.agent.service.bundle_step()
        self.agent.db.set_meta("evaluation.last_snapshot", "2000-01-01T00:00:00+00:00")
        outcome = self.agent.service.evaluate_step()
        assert outcome.report is not None, outcome.problem
        return outcome.report

    def close(self) -> None:
        self.agent.close()
        self.osqueryd.stop()


def status(report: Report, policy_id: str) -> Status:
    [result] = [r for r in report.results if r.policy_id == policy_id]
    return result.status


def events(report: Report, kind: EventKind) -> list[str]:
    return [e.message for e in report.events if e.kind is kind]


@pytest.fixture
def laptop(tmp_path: Path, collector: BundleCollector, team_key: SigningKey) -> Iterator[Laptop]:
    (tmp_path / "agent.toml").write_text("")
    machine = Laptop(tmp_path, collector.url, [team_key])
    yield machine
    machine.close()


@pytest.fixture
def on_october(laptop: Laptop, collector: BundleCollector, october: Path, team_key: SigningKey) -> Laptop:
    collector.serve(signed_bundle(october, OCTOBER, team_key).to_bytes())
    report = laptop.evaluate()
    assert report.bundle_version == OCTOBER
    assert status(report, WINDOWS_PATCH) is Status.PASS
    assert events(report, EventKind.BUNDLE_ACTIVATED)
    return laptop


def test_without_a_bundle_the_agent_runs_the_catalogue_it_was_installed_with(laptop: Laptop) -> None:
    report = laptop.evaluate()  # the collector has published nothing (404)
    assert report.bundle_version is None
    # The installed catalogue's Windows baseline ends at June 2026: today that is a stale-baseline
    # error, where the published bundles (tests/support/bundles.py) would give a verdict.
    [result] = [r for r in report.results if r.policy_id == WINDOWS_PATCH]
    assert result.status is Status.ERROR
    assert result.error is not None
    assert "baseline 'windows' is stale" in result.error
    assert report.events == []


def test_a_newer_valid_bundle_is_used_from_the_next_evaluation_and_named_in_reports(
    on_october: Laptop, collector: BundleCollector, november: Path, team_key: SigningKey
) -> None:
    assert on_october.evaluate().bundle_version == OCTOBER
    assert collector.answers[-1] == 304  # unchanged: revalidated with If-None-Match, no body

    collector.serve(signed_bundle(november, NOVEMBER, team_key).to_bytes())
    report = on_october.evaluate()
    assert report.bundle_version == NOVEMBER
    assert status(report, WINDOWS_PATCH) is Status.FAIL
    [activated] = events(report, EventKind.BUNDLE_ACTIVATED)
    assert str(NOVEMBER) in activated
    assert team_key.public.key_id in activated


def refused_and_still_on_october(laptop: Laptop, *expected: str) -> None:
    report = laptop.evaluate()
    assert report.bundle_version == OCTOBER
    assert status(report, WINDOWS_PATCH) is Status.PASS  # the november floor did not arrive
    [refusal] = events(report, EventKind.BUNDLE_REFUSED)
    for fragment in expected:
        assert fragment in refusal
    assert events(laptop.evaluate(), EventKind.BUNDLE_REFUSED) == []  # reported once, not every cycle


def test_a_bundle_with_one_byte_changed_is_refused(
    on_october: Laptop, collector: BundleCollector, november: Path, team_key: SigningKey
) -> None:
    good = signed_bundle(november, NOVEMBER, team_key).to_bytes()
    at = good.index(b"26200.8900")
    collector.serve(good[:at] + b"1" + good[at + 1 :])  # the floor 26200.8900 becomes 16200.8900
    refused_and_still_on_october(on_october, "altered")


def test_a_bundle_signed_by_an_untrusted_key_is_refused(
    on_october: Laptop, collector: BundleCollector, november: Path
) -> None:
    stranger = SigningKey.generate()
    collector.serve(signed_bundle(november, NOVEMBER, stranger).to_bytes())
    refused_and_still_on_october(on_october, stranger.public.key_id, "none of the trusted keys")


def test_a_replayed_older_bundle_is_refused(
    on_october: Laptop, collector: BundleCollector, october: Path, team_key: SigningKey
) -> None:
    collector.serve(signed_bundle(october, OCTOBER - 1, team_key).to_bytes())
    refused_and_still_on_october(on_october, "not newer")


def test_a_truncated_download_is_refused_and_fetched_again_next_time(
    on_october: Laptop, collector: BundleCollector, november: Path, team_key: SigningKey
) -> None:
    good = signed_bundle(november, NOVEMBER, team_key).to_bytes()
    collector.serve(good, cut_to=len(good) // 3)
    refused_and_still_on_october(on_october, "truncated or corrupted in transit")
    collector.serve(good)  # the network recovers: the same bundle, whole
    assert on_october.evaluate().bundle_version == NOVEMBER


def test_a_truncated_bundle_without_an_etag_is_refused_as_not_a_bundle(
    on_october: Laptop, collector: BundleCollector, november: Path, team_key: SigningKey
) -> None:
    good = signed_bundle(november, NOVEMBER, team_key).to_bytes()
    cut = good[: len(good) // 2]
    collector.serve(cut)  # its ETag names the cut bytes: only parsing can tell
    refused_and_still_on_october(on_october, "truncated or not JSON")


def test_key_rotation_adds_the_new_key_before_retiring_the_old(
    tmp_path: Path, collector: BundleCollector, october: Path, november: Path, team_key: SigningKey
) -> None:
    new_key = SigningKey.generate()
    (tmp_path / "agent.toml").write_text("")
    laptop = Laptop(tmp_path, collector.url, [team_key, new_key])  # step 1: agents trust both
    try:
        collector.serve(signed_bundle(october, OCTOBER, new_key).to_bytes())  # signed by the new key only
        assert laptop.evaluate().bundle_version == OCTOBER

        laptop.restart([new_key])  # step 3: the old key is retired from the agents' settings
        assert laptop.evaluate().bundle_version == OCTOBER  # the bundle on disk verifies with the new key
        collector.serve(signed_bundle(november, NOVEMBER, team_key).to_bytes())  # old key only
        report = laptop.evaluate()
        assert report.bundle_version == OCTOBER
        [refusal] = events(report, EventKind.BUNDLE_REFUSED)
        assert team_key.public.key_id in refusal
    finally:
        laptop.close()


def test_the_last_good_bundle_survives_a_restart_and_is_verified_again(
    on_october: Laptop, team_key: SigningKey
) -> None:
    state = on_october.folder / "state" / "bundles" / str(OCTOBER)
    policy = state / "policies" / f"{WINDOWS_PATCH}.yaml"
    policy.write_text(
        policy.read_text().replace("b.floor) >= 0", "b.floor) < 0")
    )  # SQL edited on disk: not signed
    on_october.restart([team_key])
    assert on_october.agent.service.bundle_version == OCTOBER
    assert "b.floor) >= 0" in policy.read_text()  # restored from the signed document
    assert status(on_october.evaluate(), WINDOWS_PATCH) is Status.PASS

    document = state / "bundle.json"
    document.write_bytes(document.read_bytes().replace(b"26200.8655", b"26200.8656", 1))
    on_october.restart([team_key])
    assert on_october.agent.service.bundle_version is None  # back to the install's own catalogue
    report = on_october.evaluate()
    assert "the installed bundle is not used" in events(report, EventKind.BUNDLE_REFUSED)[0]


def test_a_starter_bundle_beside_the_config_works_before_the_collector_is_reached(
    tmp_path: Path, november: Path, team_key: SigningKey
) -> None:
    (tmp_path / "agent.toml").write_text("")
    (tmp_path / "starter-bundle.json").write_bytes(signed_bundle(november, NOVEMBER, team_key).to_bytes())
    laptop = Laptop(tmp_path, None, [team_key])  # no collector configured at all
    try:
        report = laptop.evaluate()
        assert report.bundle_version == NOVEMBER
        assert status(report, WINDOWS_PATCH) is Status.FAIL
        laptop.restart([team_key])  # installed once; the same starter bundle again changes nothing
        report = laptop.evaluate()
        assert report.bundle_version == NOVEMBER
        assert report.events == []
    finally:
        laptop.close()


def test_without_trusted_keys_nothing_is_installed_and_the_reason_is_reported(
    tmp_path: Path, collector: BundleCollector, october: Path, team_key: SigningKey
) -> None:
    (tmp_path / "agent.toml").write_text("")
    laptop = Laptop(tmp_path, collector.url, [])
    try:
        collector.serve(signed_bundle(october, OCTOBER, team_key).to_bytes())
        report = laptop.evaluate()
        assert report.bundle_version is None
        assert "no trusted bundle keys are configured" in events(report, EventKind.BUNDLE_REFUSED)[0]
    finally:
        laptop.close()


def test_a_malformed_trusted_key_stops_the_agent_with_the_setting_named(tmp_path: Path) -> None:
    settings = AgentSettings(config_file=None, state_dir=tmp_path / "state", trusted_bundle_keys=["c2hvcnQ="])
    with pytest.raises(SettingsError, match="trusted_bundle_keys"):
        build_agent(settings, runner=lambda: None)  # type: ignore[arg-type,return-value]
