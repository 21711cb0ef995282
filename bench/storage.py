"""Storage per device-year: status runs (what the collector keeps) against full history (one row per
observation, what it does not keep).

    .venv/bin/python bench/storage.py [--devices 8] [--days 365]

A scratch PostgreSQL database `fleetward_bench_<random>` on 127.0.0.1:5432 is migrated; the fleet
simulator runs the given laptops through the given days (three evaluations a working day, a
snapshot a day, transitions at once, June 2026's Patch Tuesday and its BitLocker suspensions) with
the real agent code over HTTP into an in-process collector on that database. Then:

- kept: `pg_total_relation_size` of `status_runs` and `ingested_reports` (tables with their indexes);
- full history: every result of every report the agents wrote is copied into a table shaped like
  a status run (device, policy, status, version, instant, evidence JSONB, error, report id) with the
  index a history query would need, and measured the same way.

Both are divided by device-years (devices x days / 365). The database is dropped afterwards.
"""

from __future__ import annotations

import argparse
import json
import secrets
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import psycopg

from fleetward.clock import ManualClock
from simulator.demo import DEFAULT_START, bootstrap_admin
from simulator.runner import FleetSimulation
from simulator.server import InProcessCollector
from simulator.setup import shipped_setup

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
FULL_HISTORY = """
CREATE TABLE full_history (
    id BIGSERIAL PRIMARY KEY, device_id VARCHAR(64) NOT NULL, policy_id VARCHAR(100) NOT NULL,
    status VARCHAR(20) NOT NULL, policy_version VARCHAR(64) NOT NULL, observed_at TIMESTAMPTZ NOT NULL,
    evidence JSONB NOT NULL, error TEXT, report_id VARCHAR(36) NOT NULL
);
CREATE INDEX full_history_pair ON full_history (device_id, policy_id, observed_at);
"""


def _size(conn: psycopg.Connection, table: str) -> int:
    row = conn.execute("SELECT pg_total_relation_size(%s::regclass)", (table,)).fetchone()
    return int(row[0]) if row else 0


def measure(devices: int, days: int) -> dict[str, object]:
    name = f"fleetward_bench_{secrets.token_hex(4)}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    try:
        from collector.store.migrate import upgrade_to_head

        upgrade_to_head(url)
        setup = shipped_setup(devices=devices, days=days, seed=5, start=DEFAULT_START)
        catalogue, templates, plan = setup.catalogue, setup.templates, setup.plan
        clock = ManualClock(DEFAULT_START - timedelta(hours=1))
        token = bootstrap_admin(url, clock.now())
        started = time.perf_counter()
        with (
            tempfile.TemporaryDirectory(prefix="fw-storage-") as work,
            InProcessCollector(url, clock) as server,
        ):
            simulation = FleetSimulation(
                plan,
                templates=templates,
                catalogue=catalogue,
                collector_url=server.url,
                admin_token=token,
                clock=clock,
                work_dir=Path(work),
                keep_reports=True,
            )
            try:
                simulation.run()
            finally:
                simulation.close()
        simulated_s = time.perf_counter() - started
        reports = simulation.reports or []
        dsn = f"postgresql://postgres@127.0.0.1:5432/{name}"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
            runs = int(conn.execute("SELECT count(*) FROM status_runs").fetchone()[0])  # type: ignore[index]
            ingested = int(conn.execute("SELECT count(*) FROM ingested_reports").fetchone()[0])  # type: ignore[index]
            kept = _size(conn, "status_runs") + _size(conn, "ingested_reports")
            conn.execute(FULL_HISTORY)
            observations = 0
            with (
                conn.cursor() as cur,
                cur.copy(
                    "COPY full_history (device_id, policy_id, status, policy_version, observed_at, evidence, error,"
                    " report_id) FROM STDIN"
                ) as copy,
            ):
                for report in reports:
                    for result in report.results:
                        copy.write_row(
                            (
                                "00000000-0000-4000-8000-000000000000",
                                result.policy_id,
                                result.status.value,
                                result.policy_version,
                                report.observed_at,
                                json.dumps(result.evidence),
                                result.error,
                                str(report.report_id),
                            )
                        )
                        observations += 1
            conn.execute("VACUUM ANALYZE full_history")
            full = _size(conn, "full_history") + _size(conn, "ingested_reports")
    finally:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    device_years = devices * days / 365
    return {
        "devices": devices,
        "days": days,
        "simulated_s": round(simulated_s, 1),
        "reports_written": len(reports),
        "reports_ingested": ingested,
        "status_runs": runs,
        "observations": observations,
        "kept_bytes_per_device_year": round(kept / device_years),
        "full_history_bytes_per_device_year": round(full / device_years),
        "ratio": round(full / kept, 1) if kept else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--devices", type=int, default=8)
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args()
    print(json.dumps(measure(args.devices, args.days), indent=2))


if __name__ == "__main__":
    main()
