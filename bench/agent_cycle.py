"""Benchmark: the laptop agent's footprint.

    .venv/bin/python bench/agent_cycle.py [--cycles 30] [--idle-seconds 20]

Measures, with the real Thrift fake osqueryd (a separate process, serving the shipped compliant
Windows 11 recording) and the shipped catalogue:

1. one evaluation cycle (evaluate every policy + drift + write the report and state to the outbox):
   wall time, time spent waiting on osquery, and the agent's own overhead = wall - osquery time;
2. peak RSS of the agent process after those cycles (ru_maxrss of a process that only runs the agent);
3. idle CPU of `fleetward-agent run` between evaluations (utime+stime from /proc over a window);
4. import time of the entry point (`import agent.cli`), and which heavy modules it loaded (none).

Targets (issue 4): < 100 ms overhead per cycle, peak RSS < 60 MB, import < 0.5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEVICE = ROOT / "fleetward" / "recorded" / "devices" / "win11-25h2-ent-compliant.yaml"
HEAVY = ("fastapi", "sqlalchemy", "pulumi", "matplotlib", "uvicorn", "starlette", "collector", "infra")


def serve(socket_path: str) -> subprocess.Popen[bytes]:
    """The fake osqueryd in its own process, so its memory is not counted as the agent's."""
    code = (
        "import sys, time; from pathlib import Path; "
        "from tests.support.osquery_server import serve_device_file\n"
        f"with serve_device_file(Path({str(DEVICE)!r}), Path(sys.argv[1])):\n"
        "    time.sleep(3600)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, socket_path], cwd=ROOT)
    for _ in range(200):
        if Path(socket_path).exists():
            return proc
        time.sleep(0.05)
    raise RuntimeError("the fake osqueryd did not start")


def cycles_child(socket_path: str, state: str, cycles: int) -> None:
    """Runs in its own process: only the agent is in this address space."""
    from datetime import timedelta

    from agent.compose import build_agent, runner_factory
    from agent.osquery.runner import TimedRunner
    from agent.settings import AgentSettings
    from fleetward.clock import ManualClock

    settings = AgentSettings(state_dir=Path(state), osquery_sockets=[socket_path], heartbeat_minutes=360)
    # Six hours between cycles: every cycle is a heartbeat, so each one also writes a full snapshot
    # to the outbox (fsync'd): the costliest cycle the agent has.
    clock = ManualClock(datetime.now(UTC))
    timed: list[TimedRunner] = []
    make = runner_factory(settings)

    def factory() -> TimedRunner:
        runner = TimedRunner(make())
        timed.append(runner)
        return runner

    agent = build_agent(settings, runner=factory, clock=clock)
    samples = []
    for _ in range(cycles):
        started = time.perf_counter()
        outcome = agent.service.evaluate_step()
        wall = time.perf_counter() - started
        assert outcome.report is not None, "each measured cycle should write a snapshot"
        clock.advance(timedelta(hours=6))
        samples.append({"wall_ms": wall * 1000, "osquery_ms": timed[-1].seconds_in_osquery * 1000})
    agent.close()
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"samples": samples, "queries": timed[-1].queries, "peak_rss_mib": rss_kib / 1024}))


def measure_cycles(socket_path: str, cycles: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as state:
        out = subprocess.check_output(
            [sys.executable, __file__, "--child", socket_path, state, str(cycles)], cwd=ROOT, text=True
        )
    data = json.loads(out)
    samples = data["samples"][1:]  # the first cycle pays for imports and connecting
    overhead = [s["wall_ms"] - s["osquery_ms"] for s in samples]
    return {
        "queries_per_cycle": data["queries"],
        "wall_ms_median": statistics.median(s["wall_ms"] for s in samples),
        "osquery_ms_median": statistics.median(s["osquery_ms"] for s in samples),
        "overhead_ms_median": statistics.median(overhead),
        "overhead_ms_max": max(overhead),
        "first_cycle_wall_ms": data["samples"][0]["wall_ms"],
        "peak_rss_mib": data["peak_rss_mib"],
    }


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure_idle(socket_path: str, seconds: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as state:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETWARD_")}
        config = Path(state) / "agent.toml"
        config.write_text(f'state_dir = "{state}/s"\n')
        env.update(FLEETWARD_CONFIG_FILE=str(config), FLEETWARD_OSQUERY_SOCKETS=socket_path)
        proc = subprocess.Popen(
            [sys.executable, "-m", "agent.cli", "run"], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True
        )
        assert proc.stderr is not None
        for line in proc.stderr:
            if "evaluated" in line:
                break
        time.sleep(1)
        before = cpu_seconds(proc.pid)
        time.sleep(seconds)
        used = cpu_seconds(proc.pid) - before
        rss_kib = int(
            next(
                line.split()[1]
                for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines()
                if line.startswith("VmHWM")
            )
        )
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    return {"idle_cpu_percent": 100 * used / seconds, "run_peak_rss_mib": rss_kib / 1024}


def measure_import(runs: int = 7) -> dict[str, object]:
    def wall(code: str) -> float:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
        return time.perf_counter() - started

    baseline = statistics.median(wall("pass") for _ in range(runs))
    full = statistics.median(wall("import agent.cli") for _ in range(runs))
    trace = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import agent.cli"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stderr
    cumulative_us = next(
        int(line.split("|")[1]) for line in trace.splitlines() if line.rstrip().endswith("| agent.cli")
    )
    loaded = json.loads(
        subprocess.check_output(
            [sys.executable, "-c", "import sys, json, agent.cli; print(json.dumps(list(sys.modules)))"],
            cwd=ROOT,
            text=True,
        )
    )
    heavy = sorted({m.split(".")[0] for m in loaded} & set(HEAVY))
    return {
        "import_agent_cli_ms_importtime": cumulative_us / 1000,
        "import_wall_ms_over_bare_python": (full - baseline) * 1000,
        "heavy_modules_loaded": heavy,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cycles", type=int, default=30)
    parser.add_argument("--idle-seconds", type=float, default=20)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        cycles_child(args.child[0], args.child[1], int(args.child[2]))
        return
    folder = tempfile.mkdtemp(prefix="fw-bench-")
    socket_path = f"{folder}/osquery.em"
    osqueryd = serve(socket_path)
    try:
        results: dict[str, object] = {
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": f"{platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
            **measure_cycles(socket_path, args.cycles),
            **measure_idle(socket_path, args.idle_seconds),
            **measure_import(),
        }
    finally:
        osqueryd.terminate()
        osqueryd.wait()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
