"""`fleetward demo`: a simulated month of a GP region's laptops, end to end, on embedded defaults.

A SQLite collector runs in this process on loopback; the simulated fleet enrolls with per-practice
enroll secrets, reports through the real agent code over HTTP, and the auditor reports are built
from the collector's database in every format.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from collector.store.ids import IdSource
from fleetward.clock import ManualClock
from simulator.plan import SimulationPlan
from simulator.setup import shipped_setup

DEFAULT_START = datetime(2026, 5, 31, tzinfo=UTC)  # June 2026's Patch Tuesday falls inside the month
FORMATS = ("html", "csv", "json", "pdf")


@dataclass(frozen=True)
class DemoOutcome:
    plan: SimulationPlan
    database_url: str
    reports: dict[str, Path]
    reports_delivered: int
    summary: dict[str, object]
    truth_path: Path


def run_demo(
    out: Path,
    *,
    devices: int,
    days: int,
    seed: int,
    start: datetime = DEFAULT_START,
    progress: Callable[[int, int, str], None] | None = None,
) -> DemoOutcome:
    from collector.store.ids import SeededIds
    from collector.store.migrate import upgrade_to_head
    from simulator.runner import FleetSimulation
    from simulator.server import InProcessCollector
    from simulator.truth import write_truth

    out.mkdir(parents=True, exist_ok=True)
    database = out / "collector.sqlite3"
    database.unlink(missing_ok=True)
    url = f"sqlite:///{database}"
    upgrade_to_head(url)

    setup = shipped_setup(devices=devices, days=days, seed=seed, start=start)
    catalogue, templates, plan = setup.catalogue, setup.templates, setup.plan
    clock = ManualClock(start - timedelta(hours=1))
    # Ids in the collector from the seed too: device ids are in every report, so the same seed gives
    # the same report digest.
    ids = SeededIds(seed)
    admin_token = bootstrap_admin(url, clock.now(), ids)

    with (
        tempfile.TemporaryDirectory(prefix="fleetward-demo-", dir=_fast_tmp()) as work,
        InProcessCollector(url, clock, ids=ids) as collector,
    ):
        simulation = FleetSimulation(
            plan,
            templates=templates,
            catalogue=catalogue,
            collector_url=collector.url,
            admin_token=admin_token,
            clock=clock,
            work_dir=Path(work),
        )
        try:
            simulation.run(progress)
        finally:
            simulation.close()
    truth_path = write_truth(out / "ground-truth.json", simulation, catalogue)
    reports, summary = write_reports(url, out, plan, generated_at=plan.end)
    return DemoOutcome(plan, url, reports, simulation.reports_delivered, summary, truth_path)


def bootstrap_admin(database_url: str, now: datetime, ids: IdSource | None = None) -> str:
    """An admin token written straight into the store, as `fleetward collector token create` does."""
    from collector.store.credentials import Hasher, Role, create_api_token
    from collector.store.engine import Database

    db = Database.from_url(database_url, ids=ids)
    try:
        with db.write() as session:
            issued = create_api_token(
                session,
                Hasher(),
                name="simulation admin",
                role=Role.ADMIN,
                now=now,
                created_by="fleetward demo",
            )
    finally:
        db.dispose()
    return issued.secret


def write_reports(
    database_url: str, out: Path, plan: SimulationPlan, *, generated_at: datetime
) -> tuple[dict[str, Path], dict[str, object]]:
    from collector.reports.build import build_report
    from collector.reports.render import renderer_for
    from collector.store.engine import Database
    from collector.store.history import load_history

    db = Database.from_url(database_url)
    try:
        with db.read() as session:
            history = load_history(session)
    finally:
        db.dispose()
    report = build_report(
        history,
        at=None,
        period=(plan.start, plan.end),
        framework=None,
        generated_at=generated_at,
        # Not the path: the same seed gives the same report wherever --out points.
        source=f"fleetward demo collector database ({Path(database_url.split('///', 1)[-1]).name})",
    )
    written: dict[str, Path] = {}
    for fmt in FORMATS:
        renderer = renderer_for(fmt)
        path = out / f"compliance-report.{renderer.extension}"
        path.write_bytes(renderer.render(report))
        written[fmt] = path
    summary = report.summary.model_dump(mode="json")
    summary["digest"] = report.digest
    return written, summary


def _fast_tmp() -> str | None:
    """The laptops' outboxes fsync on every write, as they must; tmpfs keeps the demo quick."""
    shm = "/dev/shm"  # noqa: S108 - a private mkdtemp below it, removed afterwards
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None
