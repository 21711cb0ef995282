"""Sustained ingestion: reports per second (15 results each) against a real collector on PostgreSQL.

    .venv/bin/python bench/collector_ingest.py [--workers 2] [--devices 2000] [--concurrency 32] [--seconds 30]

A scratch database `fleetward_bench_<random>` on 127.0.0.1:5432 is migrated; `fleetward collector
serve` runs as its own process (uvicorn, N workers) on loopback; the load generator runs in
another process (asyncio; a bare keep-alive HTTP/1.1 client per in-flight slot, httpx for enrolling), enrolls the devices over HTTP, then keeps
`concurrency` reports in flight for the measured period. Each device's reports go in order
(observed one hour apart), 5% of results change status (transitions), the rest confirm the
current run. Reported: reports/s over the measured period (after a warm-up), latency
percentiles, non-2xx count, the server's CPU per report (utime + stime of the uvicorn processes
from /proc, before and after the measured period, divided by the reports measured), the load
generator's CPU per report, and the load average before and after. As a reference limit, the
database alone is then measured doing the same writes per report (one transaction: report row +
15 run updates) from one connection, and the ratio of the two rates is printed: both come from
the same run on the same machine, so the ratio holds up under other load where the rates do not.
The database is dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import resource
import secrets
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import create_engine, text

ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
POLICIES = [f"bench-policy-{n:02d}" for n in range(15)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _process_tree(pid: int) -> list[int]:
    """pid and all its descendants (uvicorn's supervisor and its worker processes)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            todo.extend(int(child) for child in task.read_text().split())
    return found


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process tree, from the kernel's own accounting."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for each in _process_tree(pid):
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / ticks


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _results(rnd: random.Random, state: dict[str, str]) -> list[dict[str, Any]]:
    out = []
    for policy in POLICIES:
        if rnd.random() < 0.05:
            state[policy] = "fail" if state.get(policy, "pass") == "pass" else "pass"
        status = state.setdefault(policy, "pass")
        out.append(
            {
                "policy_id": policy,
                "policy_version": "v1",
                "status": status,
                "evidence": [{"name": "C:", "protection_status": "1" if status == "pass" else "0"}],
                "duration_ms": 3.5,
            }
        )
    return out


async def _drive(base: str, secret: str, args: argparse.Namespace, out: Any) -> None:
    rnd = random.Random(7)
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
        devices = []
        for n in range(args.devices):
            body = {
                "enroll_secret": secret,
                "host": {"uuid": f"BENCH-{n}", "hostname": f"GP-{n:05d}", "platform": "windows"},
            }
            enrolled = (await client.post("/v1/enroll", json=body)).json()
            devices.append(enrolled["device_key"])
        start_at = datetime.now(UTC) - timedelta(days=60)
        latencies: list[float] = []
        failures = 0
        sent = 0
        measuring = False
        stop = False

        async def worker(index: int) -> None:
            nonlocal failures, sent
            mine = devices[index :: args.concurrency]
            states: list[dict[str, str]] = [{} for _ in mine]
            step = 0
            connection = await _Connection.open(base)
            per_request = max(args.batch, 1)
            while not stop:
                for slot, key in enumerate(mine):
                    if stop:
                        return
                    reports = [
                        {
                            "report_id": str(uuid.uuid4()),
                            "kind": "snapshot",
                            "observed_at": (start_at + timedelta(hours=step + n)).isoformat(),
                            "agent_version": "0.1.0",
                            "policy_versions": dict.fromkeys(POLICIES, "v1"),
                            "results": _results(rnd, states[slot]),
                        }
                        for n in range(per_request)
                    ]
                    if args.batch:  # a backlog: one device's reports, oldest first, in one request
                        path, body = "/v1/reports/batch", json.dumps({"reports": reports}).encode()
                    else:
                        path, body = "/v1/reports", json.dumps(reports[0]).encode()
                    began = time.perf_counter()
                    status, answer = await connection.post(path, body, key)
                    if measuring:
                        latencies.append(time.perf_counter() - began)
                        sent += per_request
                        if not 200 <= status < 300:
                            failures += per_request
                        elif args.batch:  # every report answered on its own
                            items = json.loads(answer)["results"]
                            failures += sum(1 for i in items if not 200 <= i["status"] < 300)
                step += per_request
            connection.close()

        tasks = [asyncio.create_task(worker(i)) for i in range(args.concurrency)]
        await asyncio.sleep(args.warmup)
        out.put("measuring")
        cpu_before = _own_cpu()
        measuring = True
        began = time.perf_counter()
        await asyncio.sleep(args.seconds)
        measuring = False
        elapsed = time.perf_counter() - began
        cpu = _own_cpu() - cpu_before
        out.put("measured")
        stop = True
        await asyncio.gather(*tasks)
    out.put({"sent": sent, "elapsed": elapsed, "failures": failures, "latencies": latencies, "cpu": cpu})


class _Connection:
    """A bare keep-alive HTTP/1.1 connection: the load generator's client for reports.

    httpx costs ~7 ms of CPU per request on this machine, more than the server; a generator that
    slow measures itself. This one writes the request bytes and reads the status line, headers
    and Content-Length body; the collector always answers with Content-Length.
    """

    def __init__(self, host: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._host = host
        self._reader = reader
        self._writer = writer

    @classmethod
    async def open(cls, base: str) -> _Connection:
        host, port = base.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        return cls(f"{host}:{port}", reader, writer)

    async def post(self, path: str, body: bytes, key: str) -> tuple[int, bytes]:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self._host}\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {key}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self._writer.write(head.encode() + body)
        status_line = await self._reader.readline()
        length = 0
        while (line := await self._reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        answer = await self._reader.readexactly(length)
        return int(status_line.split()[1]), answer

    def close(self) -> None:
        self._writer.close()


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _generator(base: str, secret: str, args: argparse.Namespace, out: Any) -> None:
    asyncio.run(_drive(base, secret, args, out))


def _database_alone(conninfo: str, reports: int) -> float:
    """The same writes per report as ingestion, straight to PostgreSQL from one connection."""
    with psycopg.connect(conninfo, autocommit=True) as conn:  # each `transaction()` a real one
        device = conn.execute("SELECT id FROM devices LIMIT 1").fetchone()[0]
        run_ids = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM status_runs WHERE device_id = %s AND next_since IS NULL", (device,)
            ).fetchall()
        ]
        began = time.perf_counter()
        now = datetime.now(UTC)
        for n in range(reports):
            with conn.transaction():
                conn.execute("SELECT id FROM devices WHERE id = %s FOR UPDATE", (device,))
                conn.execute(
                    "INSERT INTO ingested_reports (report_id, device_id, kind, observed_at, received_at, agent_version,"
                    " bundle_version, result_count, transitions) VALUES (%s, %s, 'snapshot', %s, %s, '0.1.0', NULL, 15, 0)",
                    (str(uuid.uuid4()), device, now + timedelta(seconds=n), now),
                )
                conn.execute(
                    "SELECT id, last_seen FROM status_runs WHERE device_id = %s AND next_since IS NULL",
                    (device,),
                ).fetchall()
                with conn.cursor() as cur:
                    cur.executemany(
                        "UPDATE status_runs SET last_seen = %s, evidence = %s, last_report_id = %s WHERE id = %s",
                        [(now + timedelta(seconds=n), '[{"name": "C:"}]', "r", rid) for rid in run_ids],
                    )
                conn.execute(
                    "UPDATE devices SET last_report_at = %s WHERE id = %s",
                    (now + timedelta(seconds=n), device),
                )
        return reports / (time.perf_counter() - began)


def _sqlite_alone(path: Path, reports: int) -> float:
    """The same writes per report, straight to the SQLite file with the collector's pragmas."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        device = conn.execute("SELECT id FROM devices LIMIT 1").fetchone()[0]
        run_ids = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM status_runs WHERE device_id = ? AND next_since IS NULL", (device,)
            ).fetchall()
        ]
        began = time.perf_counter()
        now = datetime.now(UTC)
        for n in range(reports):
            at = (now + timedelta(seconds=n)).isoformat()
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "INSERT INTO ingested_reports (report_id, device_id, kind, observed_at, received_at, agent_version,"
                " bundle_version, result_count, transitions) VALUES (?, ?, 'snapshot', ?, ?, '0.1.0', NULL, 15, 0)",
                (str(uuid.uuid4()), device, at, now.isoformat()),
            )
            conn.execute(
                "SELECT id, last_seen FROM status_runs WHERE device_id = ? AND next_since IS NULL", (device,)
            ).fetchall()
            conn.executemany(
                "UPDATE status_runs SET last_seen = ?, evidence = ?, last_report_id = ? WHERE id = ?",
                [(at, '[{"name": "C:"}]', "r", rid) for rid in run_ids],
            )
            conn.execute("UPDATE devices SET last_report_at = ? WHERE id = ?", (at, device))
            conn.execute("COMMIT")
        return reports / (time.perf_counter() - began)
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--devices", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--warmup", type=float, default=5)
    parser.add_argument(
        "--batch",
        type=int,
        default=0,
        help="catch-up: send N reports of one device per request to /v1/reports/batch (0: one report per request)",
    )
    parser.add_argument(
        "--sqlite", action="store_true", help="the embedded default: a SQLite file and one uvicorn worker"
    )
    parser.add_argument(
        "--profile", metavar="FILE", help="run the server (one worker) under cProfile, writing FILE"
    )
    args = parser.parse_args()
    if args.sqlite or args.profile:
        args.workers = 1  # one writer: SQLite serialises writes, more processes only contend

    from collector.store import migrate
    from collector.store.credentials import Hasher, create_enroll_secret
    from collector.store.engine import Database
    from collector.store.models import Policy, PolicyPlatform

    name = f"fleetward_bench_{secrets.token_hex(4)}"
    admin = create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    scratch = Path(tempfile.mkdtemp(prefix=name))
    if args.sqlite:
        url = f"sqlite:///{scratch / 'collector.sqlite3'}"
    else:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    server = None
    try:
        migrate(url)
        db = Database.from_url(url)
        now = datetime.now(UTC)
        with db.write() as session:
            secret = create_enroll_secret(
                session,
                Hasher(),
                name="bench",
                practice=None,
                expires_at=now + timedelta(days=1),
                now=now,
                created_by="bench",
            ).secret
            for policy in POLICIES:
                session.add(
                    Policy(
                        id=policy,
                        version="v1",
                        title=policy,
                        severity="high",
                        platforms=["windows"],
                        grace_seconds=0,
                        frameworks={},
                        baseline=None,
                        remediation="",
                        source="catalogue",
                        updated_at=now,
                    )
                )
                session.add(PolicyPlatform(policy_id=policy, platform="windows"))
        db.dispose()
        port = _free_port()
        env = {
            **os.environ,
            "FLEETWARD_DATABASE_URL": url,
            "FLEETWARD_PORT": str(port),
            "FLEETWARD_DEVICE_RATE_PER_MINUTE": "100000",
            "FLEETWARD_DEVICE_RATE_BURST": "1000",
            # every simulated laptop enrolls from this one address
            "FLEETWARD_ENROLL_RATE_PER_MINUTE": "100000",
            "FLEETWARD_ENROLL_RATE_BURST": "100000",
        }
        log = Path(f"/tmp/{name}.log").open("w")  # noqa: SIM115 - lives as long as the server
        profiler = ["-m", "cProfile", "-o", args.profile] if args.profile else []
        server = subprocess.Popen(
            [sys.executable, *profiler, "-m", "collector.cli", "serve", "--workers", str(args.workers)],
            env=env,
            stderr=log,
        )
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                if httpx.get(base + "/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        queue: Any = multiprocessing.Queue()
        generator = multiprocessing.Process(target=_generator, args=(base, secret, args, queue))
        generator.start()
        assert queue.get() == "measuring"
        load_before, server_cpu_before = _load(), _cpu_seconds(server.pid)
        assert queue.get() == "measured"
        load_after, server_cpu = _load(), _cpu_seconds(server.pid) - server_cpu_before
        result = queue.get()
        generator.join()
        latencies = sorted(result["latencies"])

        def pct(p: float) -> float:
            return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000

        rate = result["sent"] / result["elapsed"]
        print(
            f"uvicorn workers={args.workers} devices={args.devices} concurrency={args.concurrency} "
            f"measured={result['elapsed']:.0f}s "
            + (f"batch={args.batch} reports per request" if args.batch else "one report per request")
        )
        print(
            f"sustained: {rate:.0f} reports/s ({rate * 15:.0f} results/s), {result['sent']} reports, "
            f"{result['failures']} non-2xx"
        )
        print(
            f"latency ms (per request): p50 {pct(50):.1f}  p95 {pct(95):.1f}  p99 {pct(99):.1f}  max {latencies[-1] * 1000:.1f}  "
            f"mean {statistics.mean(latencies) * 1000:.1f}"
        )
        metrics = httpx.get(base + "/metrics").text
        transitions = next(
            (line for line in metrics.splitlines() if line.startswith("fleetward_transitions_total")), ""
        )
        print(f"one worker's counter (of {args.workers}): {transitions}")
        reports = max(result["sent"], 1)
        print(
            f"cpu ms per report: server {server_cpu * 1000 / reports:.2f} (all {args.workers} workers), "
            f"load generator {result['cpu'] * 1000 / reports:.2f}"
        )
        print(f"load average (1/5/15 min): before {load_before}, after {load_after}")
        # uvicorn re-raises the signal it stopped on; SIGINT lets cProfile write its file first.
        server.send_signal(signal.SIGINT if args.profile else signal.SIGTERM)
        server.wait(timeout=30)
        server = None
        if args.sqlite:
            alone = _sqlite_alone(scratch / "collector.sqlite3", 3000)
        else:
            alone = _database_alone(url.replace("postgresql+psycopg://", "postgresql://"), 3000)
        print(f"database alone, same writes per report, one connection: {alone:.0f} reports/s")
        print(f"ratio server / database alone: {rate / alone:.2f} (load average now {_load()})")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        if not args.sqlite:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
