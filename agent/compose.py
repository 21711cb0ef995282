"""The agent's composition root: settings in, a wired agent out. Used by the CLI, the benchmark and
the end-to-end tests, so all three run the same objects."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from agent.errors import OsqueryUnavailable, SettingsError
from agent.evaluation import Evaluator, RunnerFactory
from agent.osquery.runner import QueryRunner, ThriftRunner
from agent.settings import AgentSettings
from fleetward.clock import Clock, SystemClock
from fleetward.wire import HostIdentity

if TYPE_CHECKING:
    import httpx

    from agent.collector_client import CollectorClient
    from agent.enroll import Enroller
    from agent.outbox import Outbox
    from agent.service import AgentService
    from agent.store import Database
    from fleetward.policy.catalogue import Catalogue


def runner_factory(settings: AgentSettings, sockets: list[str] | None = None) -> RunnerFactory:
    """A new runner per evaluation: the socket (osqueryd), else osqueryi if the fallback is on."""
    chosen = sockets or settings.osquery_sockets

    def make() -> QueryRunner:
        thrift = ThriftRunner(chosen, query_timeout=settings.query_timeout_seconds)
        if not settings.osqueryi_fallback:
            return thrift
        try:
            thrift.open()
            return thrift
        except OsqueryUnavailable as exc:
            from agent.osquery.osqueryi import OsqueryiRunner

            try:
                return OsqueryiRunner(settings.osqueryi_path, query_timeout=settings.query_timeout_seconds)
            except OsqueryUnavailable:
                raise OsqueryUnavailable([*exc.tried, settings.osqueryi_path]) from exc

    return make


def load_agent_catalogue(settings: AgentSettings, policies_dir: Path | None = None) -> Catalogue:
    from fleetward.policy.catalogue import load_catalogue

    return load_catalogue(policies_dir or settings.policies_dir)


@dataclass
class Agent:
    settings: AgentSettings
    clock: Clock
    stop: threading.Event
    db: Database
    outbox: Outbox
    service: AgentService
    enroller: Enroller | None
    client: CollectorClient | None

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
        self.db.close()


def build_agent(
    settings: AgentSettings,
    *,
    clock: Clock | None = None,
    catalogue: Catalogue | None = None,
    runner: RunnerFactory | None = None,
    transport: httpx.BaseTransport | None = None,
    stop: threading.Event | None = None,
) -> Agent:
    from agent.bundle_updates import HttpBundleSource, build_updater, starter_bundle_path
    from agent.collector_client import CollectorClient
    from agent.enroll import CredentialsFile, Enroller
    from agent.identity import read_host
    from agent.outbox import Outbox
    from agent.service import AgentService
    from agent.status import StatusBook
    from agent.store import Database
    from agent.uploader import Uploader

    clock = clock or SystemClock()
    stop = stop or threading.Event()
    make_runner = runner or runner_factory(settings)
    default_catalogue = catalogue or load_agent_catalogue(settings)
    db = Database.in_state_dir(settings.state_dir)
    outbox = Outbox(
        db, max_entries=settings.outbox_max_entries, max_bytes=settings.outbox_max_bytes, clock=clock
    )
    client: CollectorClient | None = None
    enroller: Enroller | None = None
    uploader: Uploader | None = None
    if settings.collector_url:
        client = CollectorClient(
            settings.collector_url,
            timeout=settings.http_timeout_seconds,
            tls_ca_file=settings.tls_ca_file,
            transport=transport,
        )

        def identity() -> HostIdentity:
            with_runner = make_runner()
            try:
                return read_host(with_runner, settings.practice)
            finally:
                with_runner.close()

        enroller = Enroller(
            collector_url=settings.collector_url,
            secret=settings.enroll_secret_value,
            identity=identity,
            client=client,
            store=CredentialsFile(settings.state_dir),
            clock=clock,
        )
        uploader = Uploader(
            outbox,
            client,
            enroller,
            status=StatusBook(db),
            clock=clock,
            batch_size=settings.upload_batch_size,
        )
    source = HttpBundleSource(client, enroller) if client is not None and enroller is not None else None
    bundles = build_updater(settings, db=db, outbox=outbox, source=source)
    starting = bundles.start(starter_bundle_path(settings))
    evaluator = Evaluator(
        default_catalogue if starting is None else starting.catalogue,
        make_runner,
        clock,
        deadline_seconds=settings.evaluation_deadline_seconds,
        practice=settings.practice,
        stop=stop,
    )
    service = AgentService(
        evaluator=evaluator,
        db=db,
        outbox=outbox,
        uploader=uploader,
        clock=clock,
        heartbeat=timedelta(minutes=settings.heartbeat_minutes),
        bundles=bundles,
        bundle_version=None if starting is None else starting.version,
    )
    return Agent(settings, clock, stop, db, outbox, service, enroller, client)


def require_collector(settings: AgentSettings) -> str:
    if not settings.collector_url:
        raise SettingsError(
            "no collector is configured: set FLEETWARD_COLLECTOR_URL or `collector_url` in the config file"
        )
    return settings.collector_url
