"""Dashboard pages over real HTTP at 100,000 devices x 15 policies, against the SQL aggregates.

    .venv/bin/python bench/dashboard_pages.py [--devices 100000]        # seed, roll up, time, drop
    .venv/bin/python bench/dashboard_pages.py --seed-only --devices N  # seed and keep (prints the name)
    .venv/bin/python bench/dashboard_pages.py --reuse DATABASE         # time an already seeded database

Seeds a scratch PostgreSQL database as bench/collector_state.py does (COPY; 15 policies, three
runs per pair over 90 days, failures, errors, silences, practice waivers), computes the daily
rollups (`fleetward collector rollup`, timed apart: a scheduled job), starts `fleetward collector
serve` (one uvicorn worker) on loopback, signs in as an auditor and times, at a past instant:
the overview, a framework, a policy, a practice and a device page, the overview's next page of
devices and a 30-day period view. Each page is fetched cold (first view at that instant and data
version: every aggregate computed) and warm (the same view again: the snapshot cache), the
median of `--repeats` warm fetches. In the same run it times the SQL aggregate each page
summarises, straight on the database: `fleet_counts` (what GET /v1/fleet/state runs) for the
overview and the framework page, with a policy filter for the policy page, with a practice
filter for the practice page, and one device's `fleet_pairs` for the device page. Reports the
ratios, and the server's RSS (VmRSS and VmHWM from /proc) after the pages.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import secrets
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.collector_state import ADMIN, POLICIES, START, seed
from collector.domain.state import DEFAULT_VALIDITY
from collector.store import migrate
from collector.store.credentials import Hasher, Role, create_api_token
from collector.store.engine import Database
from collector.store.fleet_state import StateFilter, fleet_counts, fleet_pairs
from collector.store.rollups import refresh_rollups

AT = START + timedelta(days=45, hours=12)


def _url(name: str) -> str:
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def _create(devices: int) -> str:
    name = f"fleetward_bench_{secrets.token_hex(4)}"
    admin = create_engine(
        ADMIN.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    migrate(_url(name), now=START)
    started = time.perf_counter()
    runs = seed(_url(name), devices, random.Random(devices))
    print(
        f"seeded {name}: {devices:,} devices x {len(POLICIES)} policies, {runs:,} runs in {time.perf_counter() - started:.0f} s"
    )
    return name


def _drop(name: str) -> None:
    admin = create_engine(
        ADMIN.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _rollup(db: Database, now: datetime) -> float:
    days = [(AT - timedelta(days=n)).date() for n in range(40)]
    started = time.perf_counter()
    with db.write() as session:
        done = refresh_rollups(session, days, validity=DEFAULT_VALIDITY, now=now)
    seconds = time.perf_counter() - started
    print(
        f"rollups: {len(done)} days computed in {seconds:.1f} s ({seconds / max(len(done), 1):.2f} s a day)"
    )
    return seconds


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _rss(pid: int) -> tuple[float, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
    hwm = int(re.search(r"VmHWM:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
    return rss / 1024, hwm / 1024


def _timed(action) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def measure(name: str, repeats: int) -> dict[str, object]:
    url = _url(name)
    db = Database.from_url(url)
    now = datetime.now(UTC)
    with db.write() as session:
        token = create_api_token(
            session, Hasher(), name="bench", role=Role.AUDITOR, now=now, created_by="bench"
        ).secret
    with db.read() as session:
        device_id, practice = session.execute(
            text("SELECT id, practice FROM devices ORDER BY hostname, id LIMIT 1")
        ).one()
    aggregates = {
        "fleet_counts": lambda s: fleet_counts(s, AT, validity=DEFAULT_VALIDITY),
        "fleet_counts policy": lambda s: fleet_counts(
            s, AT, validity=DEFAULT_VALIDITY, flt=StateFilter(policy_id=POLICIES[3])
        ),
        "fleet_counts practice": lambda s: fleet_counts(
            s, AT, validity=DEFAULT_VALIDITY, flt=StateFilter(practice=practice)
        ),
        "fleet_pairs device": lambda s: fleet_pairs(
            s, AT, validity=DEFAULT_VALIDITY, flt=StateFilter(device_id=device_id)
        ),
    }
    port = _free_port()
    env = {**os.environ, "FLEETWARD_DATABASE_URL": url, "FLEETWARD_PORT": str(port)}
    log = Path(f"/tmp/{name}-dashboard.log").open("w")  # noqa: SIM115 - lives as long as the server
    server = subprocess.Popen(
        [sys.executable, "-m", "collector.cli", "serve"], env=env, stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{port}"
    at = AT.isoformat()
    pages = {
        "overview": ("/ui/", {"at": at}, "fleet_counts"),
        "overview, next page of devices": ("/ui/", {"at": at, "after": "GP-000050"}, "fleet_counts"),
        "framework": ("/ui/frameworks/dspt", {"at": at}, "fleet_counts"),
        "policy": (f"/ui/policies/{POLICIES[3]}", {"at": at}, "fleet_counts policy"),
        "practice": (f"/ui/practices/{practice}", {"at": at}, "fleet_counts practice"),
        "device": (f"/ui/devices/{device_id}", {"at": at}, "fleet_pairs device"),
        "period of 30 days": (
            "/ui/",
            {"from": (AT - timedelta(days=30)).isoformat(), "to": at},
            "fleet_counts",
        ),
    }
    results: dict[str, dict[str, float]] = {}
    try:
        with httpx.Client(base_url=base, timeout=600) as client:
            for _ in range(100):
                try:
                    client.get("/v1/health")
                    break
                except httpx.TransportError:
                    time.sleep(0.2)
            # The server registers the shipped catalogue when it starts (a policy change, which
            # invalidates rollups), so the scheduled job's run is simulated after that.
            rollup_s = _rollup(db, datetime.now(UTC))
            sql: dict[str, float] = {}
            for label, run in aggregates.items():
                times = []
                for _ in range(repeats):
                    with db.read() as session:
                        times.append(_timed(lambda: run(session)))  # noqa: B023
                sql[label] = statistics.median(times)
            db.dispose()
            csrf = client.get("/ui/sign-in").cookies["fleetward_ui_csrf"]
            signed = client.post("/ui/sign-in", data={"token": token, "csrf": csrf})
            assert signed.status_code in (200, 303), signed.text[:300]
            for label, (path, params, aggregate) in pages.items():
                cold = _timed(lambda: _ok(client.get(path, params=params)))  # noqa: B023
                warm = statistics.median(
                    _timed(lambda: _ok(client.get(path, params=params)))  # noqa: B023
                    for _ in range(repeats)
                )
                results[label] = {"cold_s": cold, "warm_s": warm, "aggregate_s": sql[aggregate]}
                print(
                    f"{label}: cold {cold * 1000:.0f} ms, warm {warm * 1000:.0f} ms; {aggregate} "
                    f"{sql[aggregate] * 1000:.0f} ms (cold {cold / sql[aggregate]:.1f}x, warm {warm / sql[aggregate]:.2f}x)",
                    flush=True,
                )
        rss, hwm = _rss(server.pid)
        print(f"server RSS after the pages: {rss:.0f} MiB (peak {hwm:.0f} MiB)")
    finally:
        server.terminate()
        server.wait(timeout=30)
    summary = {
        "pages": results,
        "rollup_s": rollup_s,
        "rss_mib": rss,
        "peak_rss_mib": hwm,
        "load": os.getloadavg(),
    }
    print(json.dumps(summary))
    return summary


def _ok(response: httpx.Response) -> None:
    if response.status_code != 200:
        raise SystemExit(f"{response.request.url}: {response.status_code} {response.text[:500]}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed-only", action="store_true")
    parser.add_argument("--reuse", metavar="DATABASE")
    args = parser.parse_args()
    if args.reuse:
        measure(args.reuse, args.repeats)
        return
    name = _create(args.devices)
    if args.seed_only:
        print(f"kept database {name}")
        return
    try:
        measure(name, args.repeats)
    finally:
        _drop(name)


if __name__ == "__main__":
    main()
