"""Point-in-time fleet state on PostgreSQL: 100,000 devices x 15 policies (and 10,000).

    .venv/bin/python bench/collector_state.py [--devices 100000 10000] [--keep]

Creates a scratch database `fleetward_bench_<random>` on 127.0.0.1:5432, migrates it, seeds it
directly with COPY (devices, 15 policies applying to every platform, three status runs per pair
over 90 days with grace, failures, errors, silences longer than the validity period and practice
waivers), runs ANALYZE, then times `fleet_counts` (aggregate counts by policy, platform and
status) plus the first page of `fleet_pairs` at several instants, as `GET /v1/fleet/state` does.
The database is dropped afterwards unless --keep.
"""

from __future__ import annotations

import argparse
import io
import random
import secrets
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
from sqlalchemy import create_engine, text

from collector.domain.state import DEFAULT_VALIDITY
from collector.store import migrate
from collector.store.engine import Database
from collector.store.fleet_state import fleet_counts, fleet_pairs

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
POLICIES = [f"bench-policy-{n:02d}" for n in range(15)]
PLATFORMS = ["windows", "darwin", "linux"]


def _ts(value: datetime | None) -> str:
    return "\\N" if value is None else value.isoformat()


def seed(url: str, devices: int, rnd: random.Random) -> int:
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    runs_written = 0
    with psycopg.connect(conninfo) as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM policy_versions; DELETE FROM policy_platforms; DELETE FROM policies")
        for index, policy in enumerate(POLICIES):
            cur.execute(
                "INSERT INTO policies (id, version, title, severity, platforms, grace_seconds, frameworks,"
                " baseline, remediation, source, updated_at) VALUES (%s, 'v1', %s, 'high', %s, %s, '{}', NULL,"
                " '', 'catalogue', %s)",
                (policy, policy, '["windows","darwin","linux"]', 86400 * (index % 3), START),
            )
            for platform in PLATFORMS:
                cur.execute("INSERT INTO policy_platforms VALUES (%s, %s)", (policy, platform))
        device_rows = io.StringIO()
        run_rows = io.StringIO()
        device_ids = []
        for n in range(devices):
            device_id = str(uuid.UUID(int=rnd.getrandbits(128)))
            device_ids.append(device_id)
            practice = f"Y{rnd.randint(0, 499):05d}"
            platform = rnd.choice(PLATFORMS)
            device_rows.write(
                f"{device_id}\tUUID-{n}\tSN{n}\tGP-{n:06d}\t{platform}\tos\t1\t{practice}\t0.1\t{START.isoformat()}\t\\N\t\\N\t\\N\n"
            )
            for policy in POLICIES:
                at = START + timedelta(hours=rnd.randint(0, 48))
                rows = []
                failing: datetime | None = None
                for _ in range(3):
                    status = rnd.choices(["pass", "fail", "error"], weights=[80, 15, 5])[0]
                    length = timedelta(days=rnd.randint(1, 30))
                    since, last_seen = at, at + length
                    failing = (failing or since) if status in ("fail", "error") else None
                    rows.append([status, since, last_seen, failing])
                    gap = timedelta(days=rnd.choice([1, 1, 1, 40]))  # sometimes silent past validity
                    at = last_seen + gap
                for i, (status, since, last_seen, failing_since) in enumerate(rows):
                    nxt = rows[i + 1][1] if i + 1 < len(rows) else None
                    run_rows.write(
                        f"{device_id}\t{policy}\t{status}\tv1\t{_ts(since)}\t{_ts(last_seen)}\t{_ts(nxt)}\t"
                        f"{_ts(failing_since)}\t[]\t\\N\t\\N\t\\N\n"
                    )
                    runs_written += 1
        with cur.copy(
            "COPY devices (id, hardware_uuid, hardware_serial, hostname, platform, os_name, os_version, practice,"
            " agent_version, enrolled_at, last_enrolled_at, last_report_at, enroll_secret_id) FROM STDIN"
        ) as copy:
            copy.write(device_rows.getvalue())
        with cur.copy(
            "COPY status_runs (device_id, policy_id, status, policy_version, since, last_seen, next_since,"
            " failing_since, evidence, error, report_id, last_report_id) FROM STDIN"
        ) as copy:
            copy.write(run_rows.getvalue())
        for n in range(50):  # practice-wide waivers, as admins grant them
            cur.execute(
                "INSERT INTO waivers (id, policy_id, device_id, practice, justification, owner, granted_at,"
                " granted_by, expires_at) VALUES (%s, %s, NULL, %s, 'bench', 'bench', %s, 'bench', %s)",
                (
                    f"wvr_{n}",
                    rnd.choice(POLICIES),
                    f"Y{rnd.randint(0, 499):05d}",
                    START,
                    START + timedelta(days=60),
                ),
            )
        conn.commit()
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return runs_written


def measure(url: str, instants: list[datetime], repeats: int) -> list[tuple[datetime, float, float, int]]:
    db = Database.from_url(url)
    results = []
    with db.read() as session:
        for at in instants:
            counts_times, page_times, total = [], [], 0
            for _ in range(repeats):
                started = time.perf_counter()
                counts = fleet_counts(session, at, validity=DEFAULT_VALIDITY)
                counts_times.append(time.perf_counter() - started)
                started = time.perf_counter()
                fleet_pairs(session, at, validity=DEFAULT_VALIDITY, limit=100)
                page_times.append(time.perf_counter() - started)
                total = sum(counts.values())
            results.append((at, statistics.median(counts_times), statistics.median(page_times), total))
    db.dispose()
    return results


INSTANTS = [START + timedelta(days=d) for d in (1, 20, 45, 70, 100)]


def _report(results: list[tuple[datetime, float, float, int]]) -> None:
    print("| instant | pairs | counts (median) | first page of 100 pairs (median) | total |")
    print("|---|---|---|---|---|")
    for at, counts_s, page_s, total in results:
        print(
            f"| {at:%Y-%m-%d} | {total:,} | {counts_s * 1000:.0f} ms | {page_s * 1000:.0f} ms |"
            f" {(counts_s + page_s) * 1000:.0f} ms |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--devices", type=int, nargs="+", default=[100_000, 10_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--reuse", metavar="DATABASE", help="measure an already seeded (kept) database only")
    args = parser.parse_args()
    if args.reuse:
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{args.reuse}"
        _report(measure(url, INSTANTS, args.repeats))
        return
    admin = create_engine(
        ADMIN.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    for devices in args.devices:
        name = f"fleetward_bench_{secrets.token_hex(4)}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
        try:
            migrate(url, now=START)
            started = time.perf_counter()
            runs = seed(url, devices, random.Random(devices))
            seeded = time.perf_counter() - started
            print(
                f"\n{devices:,} devices x {len(POLICIES)} policies: {runs:,} status runs seeded in {seeded:.0f} s"
            )
            _report(measure(url, INSTANTS, args.repeats))
        finally:
            if not args.keep:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            else:
                print(f"kept database {name}")
    admin.dispose()


if __name__ == "__main__":
    main()
