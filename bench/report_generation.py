"""Report generation at fleet scale on PostgreSQL: 100,000 devices x 15 policies (1.5 million pairs).

    .venv/bin/python bench/report_generation.py                  # every format, one process each
    .venv/bin/python bench/report_generation.py --devices 10000  # smaller
    .venv/bin/python bench/report_generation.py --keep           # keep the seeded database
    .venv/bin/python bench/report_generation.py --reuse NAME     # time an already seeded database

A scratch database `fleetward_bench_<random>` on 127.0.0.1:5432 is migrated and seeded with COPY
from a synthetic fleet shaped like a real one: 90% Windows, 7% macOS, 3% Ubuntu; each pair has one
to three status runs over the last 60 days, about 6% of pairs failing (a third of them for longer
than the grace), 0.5% erroring, 2% of devices silent for more than 30 days, one waiver per 200
devices and two evidence rows on every failing run; then VACUUM ANALYZE. Seeding is only inserts
and runs before the timing; the timing holds `flock /tmp/fleetward-cpu.lock` (exclusive) itself.
Timed, in the same run: PostgreSQL's own `COPY status_runs TO STDOUT (FORMAT csv)` read by a
client (the reference: median of 3), then each format streamed as `GET /v1/reports/{format}` and
`fleetward report --database-url` stream it (collector.reports.stream over
collector.store.report_rows, signed), written to a file, each in its own process so its peak RSS
(ru_maxrss) is that format's alone. An instant report with its 30-day trend. Printed per format:
seconds to the first byte and in all, the ratio to COPY, output size and peak RSS.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import random
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collector.domain.fleet import BundleRecord, DeviceRecord, FleetHistory, PolicyRecord
from collector.domain.runs import Run
from collector.domain.state import Waiver
from fleetward.policy.model import Platform
from fleetward.policy.verdict import Status

AT = datetime(2026, 11, 30, 12, tzinfo=UTC)
ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432"
LOCK = "/tmp/fleetward-cpu.lock"
DAY = timedelta(days=1)
FORMATS = ("json", "csv", "html", "pdf")


def synthetic_history(devices: int, policies: int = 15, seed: int = 7) -> FleetHistory:
    rng = random.Random(seed)
    platforms = (Platform.WINDOWS, Platform.DARWIN, Platform.LINUX)
    policy_records = tuple(
        PolicyRecord(
            id=f"policy-{i:02d}",
            title=f"Synthetic policy {i}",
            severity="high",
            platforms=platforms,
            grace=timedelta(days=14 if i % 3 == 0 else 0),
            version=f"v{i}",
            frameworks={"dspt": (f"9.{i % 5}.1",), "cyber-essentials": (f"A{i % 8}.1",)},
        )
        for i in range(policies)
    )
    device_records = []
    runs: dict[tuple[str, str], tuple[Run, ...]] = {}
    evidence = ({"name": "C:", "compliant": "0", "protection_status": "0"}, {"name": "D:", "compliant": "1"})
    for d in range(devices):
        roll = rng.random()
        platform = Platform.WINDOWS if roll < 0.9 else Platform.DARWIN if roll < 0.97 else Platform.LINUX
        device_id = f"dev-{d:06d}"
        device_records.append(
            DeviceRecord(
                device_id=device_id,
                hostname=f"gp{d:06d}.practice.nhs.uk",
                platform=platform,
                enrolled_at=AT - 90 * DAY,
                practice=f"P{d % 700:05d}",
                os_name="Windows 11",
                os_version="24H2",
            )
        )
        silent = rng.random() < 0.02
        last_seen = AT - (35 + rng.random() * 20) * DAY if silent else AT - rng.random() * DAY / 4
        for policy in policy_records:
            start = AT - 60 * DAY
            pair: list[Run] = []
            roll = rng.random()
            if roll < 0.06:  # failing: passed first, failed since some day
                failed_at = last_seen - rng.random() * 30 * DAY
                pair.append(Run(Status.PASS, policy.version, start, failed_at - DAY / 24))
                pair.append(Run(Status.FAIL, policy.version, failed_at, last_seen, evidence))
            elif roll < 0.065:
                pair.append(
                    Run(Status.ERROR, policy.version, start, last_seen, (), "no such table: bitlocker_info")
                )
            elif roll < 0.1:  # failed once and was fixed
                fixed = start + rng.random() * 40 * DAY
                pair.append(Run(Status.FAIL, policy.version, start, fixed - DAY, evidence))
                pair.append(Run(Status.PASS, policy.version, fixed, last_seen))
            else:
                pair.append(Run(Status.PASS, policy.version, start, last_seen))
            runs[(device_id, policy.id)] = tuple(pair)
    waivers = tuple(
        Waiver(
            id=f"w-{i}",
            policy_id=policy_records[i % policies].id,
            justification="Clinical system constraint",
            owner="ICB IT",
            granted_at=AT - 40 * DAY,
            expires_at=AT + (i % 60 - 20) * DAY,
            device_id=f"dev-{rng.randrange(devices):06d}",
        )
        for i in range(max(1, devices // 200))
    )
    return FleetHistory(
        devices=tuple(device_records),
        policies=policy_records,
        runs=runs,
        waivers=waivers,
        bundles=(BundleRecord(7, "a" * 64, AT - 10 * DAY, AT - 11 * DAY),),
    )


def _ts(value: datetime | None) -> str:
    return "\\N" if value is None else value.isoformat()


def _text(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def seed(url: str, devices: int) -> int:
    """The synthetic fleet written with COPY; the number of status runs."""
    import psycopg

    from collector.domain.state import failing_starts

    history = synthetic_history(devices)
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    runs_written = 0
    with psycopg.connect(conninfo) as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM policy_versions; DELETE FROM policy_platforms; DELETE FROM policies")
        for p in history.policies:
            cur.execute(
                "INSERT INTO policies (id, version, title, severity, platforms, grace_seconds, frameworks,"
                " baseline, remediation, source, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, NULL, '',"
                " 'catalogue', %s)",
                (
                    p.id,
                    p.version,
                    p.title,
                    p.severity,
                    json.dumps([x.value for x in p.platforms]),
                    int(p.grace.total_seconds()),
                    json.dumps({k: list(v) for k, v in p.frameworks.items()}),
                    AT - 90 * DAY,
                ),
            )
            for platform in p.platforms:
                cur.execute("INSERT INTO policy_platforms VALUES (%s, %s)", (p.id, platform.value))
        with cur.copy(
            "COPY devices (id, hardware_uuid, hardware_serial, hostname, platform, os_name, os_version, practice,"
            " agent_version, enrolled_at) FROM STDIN"
        ) as copy:
            for d in history.devices:
                copy.write(
                    f"{d.device_id}\tUUID-{d.device_id}\tSN-{d.device_id}\t{d.hostname}\t{d.platform.value}\t"
                    f"{d.os_name}\t{d.os_version}\t{d.practice}\t1.0\t{d.enrolled_at.isoformat()}\n"
                )
        with cur.copy(
            "COPY status_runs (device_id, policy_id, status, policy_version, since, last_seen, next_since,"
            " failing_since, evidence, error) FROM STDIN"
        ) as copy:
            for (device_id, policy_id), runs in history.runs.items():
                starts = failing_starts(runs)
                for i, run in enumerate(runs):
                    nxt = runs[i + 1].since if i + 1 < len(runs) else None
                    error = "\\N" if run.error is None else _text(run.error)
                    copy.write(
                        f"{device_id}\t{policy_id}\t{run.status.value}\t{run.policy_version}\t{_ts(run.since)}\t"
                        f"{_ts(run.last_seen)}\t{_ts(nxt)}\t{_ts(starts[i])}\t"
                        f"{_text(json.dumps(list(run.evidence)))}\t{error}\n"
                    )
                    runs_written += 1
        for w in history.waivers:
            cur.execute(
                "INSERT INTO waivers (id, policy_id, device_id, practice, justification, owner, granted_at,"
                " granted_by, expires_at) VALUES (%s, %s, %s, NULL, %s, %s, %s, 'bench', %s)",
                (w.id, w.policy_id, w.device_id, w.justification, w.owner, w.granted_at, w.expires_at),
            )
        conn.commit()
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return runs_written


def copy_seconds(url: str) -> tuple[float, int]:
    """Median seconds for `COPY status_runs TO STDOUT (FORMAT csv)` read by a client, and its bytes."""
    import psycopg

    times, size = [], 0
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn, conn.cursor() as cur:
        for _ in range(3):
            started, size = time.perf_counter(), 0
            with cur.copy("COPY status_runs TO STDOUT (FORMAT csv)") as copy:
                for block in copy:
                    size += len(block)
            times.append(time.perf_counter() - started)
    return statistics.median(times), size


def measure_one(fmt: str, url: str) -> dict[str, float | int | str]:
    from sqlalchemy import func, select

    from collector.reports.stream import ReportRequest, stream_report
    from collector.store.engine import Database
    from collector.store.models import Device
    from collector.store.report_rows import device_pages, report_context
    from fleetward.bundle.keys import SigningKey

    db = Database.from_url(url)
    validity = timedelta(days=30)
    started = time.perf_counter()
    first: float | None = None
    size = 0
    with db.read() as session, tempfile.TemporaryFile() as out:
        request = ReportRequest(
            context=report_context(session, validity=validity),
            at=AT,
            period=None,
            framework=None,
            generated_at=AT,
            source="bench",
            key=SigningKey.generate(),
            devices=session.execute(select(func.count()).select_from(Device)).scalar_one(),
        )
        for chunk in stream_report(fmt, request, device_pages(session, validity=validity)):
            if chunk and first is None:
                first = time.perf_counter() - started
            out.write(chunk)
            size += len(chunk)
    total = time.perf_counter() - started
    db.dispose()
    return {
        "format": fmt,
        "first_byte_s": round(first or total, 2),
        "report_s": round(total, 2),
        "bytes": size,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--one", choices=FORMATS, help="measure one format in this process (prints JSON)")
    parser.add_argument("--url", help="with --one: the seeded database")
    parser.add_argument("--keep", action="store_true", help="keep the seeded database")
    parser.add_argument("--reuse", metavar="DATABASE", help="time an already seeded (kept) database")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_one(args.one, args.url)))
        return
    from sqlalchemy import create_engine, text

    from collector.store import migrate

    admin = create_engine(f"{ADMIN}/postgres", isolation_level="AUTOCOMMIT")
    name = args.reuse or f"fleetward_bench_{secrets.token_hex(4)}"
    url = f"{ADMIN}/{name}"
    try:
        if not args.reuse:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            migrate(url, now=AT - 90 * DAY)
            started = time.perf_counter()
            runs = seed(url, args.devices)
            print(
                f"{args.devices:,} devices x 15 policies: {runs:,} status runs seeded in "
                f"{time.perf_counter() - started:.0f} s (outside the lock)"
            )
        with open(LOCK, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # no test suite runs while we time
            print(f"load average at the start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
            copy_s, copy_bytes = copy_seconds(url)
            print(f"COPY status_runs TO STDOUT (FORMAT csv): {copy_s:.2f} s, {copy_bytes / 2**20:.0f} MiB")
            print()
            print("| format | devices | first byte s | report s | x COPY | output MiB | peak RSS MiB |")
            print("|---|---:|---:|---:|---:|---:|---:|")
            for fmt in FORMATS:
                out = subprocess.run(
                    [sys.executable, __file__, "--one", fmt, "--url", url],
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
                r = json.loads(out.strip().splitlines()[-1])
                print(
                    f"| {fmt} | {args.devices:,} | {r['first_byte_s']} | {r['report_s']} | "
                    f"{float(r['report_s']) / copy_s:.1f} | {int(r['bytes']) / 2**20:.1f} | {r['peak_rss_mib']:,} |",
                    flush=True,
                )
            print(f"\nload average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        if args.keep or args.reuse:
            print(f"kept database {name}")
        else:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
