"""Run every benchmark and rewrite bench/RESULTS.md: machine, date, method and figures, each figure
beside its target and, where one exists, a limit measured in the same run.

    .venv/bin/python -m bench            # everything (about 15-20 minutes on 2 cores)
    .venv/bin/python -m bench --quick    # smaller sizes, to check the harness itself

Each benchmark is its own script, run here as a child process so its memory and imports are its
own; this runner only collects what they print. Timings never go into the tests.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent


@dataclass
class Figure:
    name: str
    value: str
    target: str = ""
    limit: str = ""  # a reference measured in the same run (the database alone, full history, ...)


@dataclass
class Section:
    title: str
    script: str
    args: list[str]
    output: str = ""
    seconds: float = 0.0
    figures: list[Figure] = field(default_factory=list)
    failed: str | None = None


Extract = Callable[[Section], list[Figure]]


def _run(section: Section) -> None:
    started = time.perf_counter()
    command = [sys.executable, str(BENCH / section.script), *section.args]
    print(f"== {section.title}: {' '.join(command[1:])}", flush=True)
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    section.seconds = time.perf_counter() - started
    section.output = done.stdout.strip()
    if done.returncode != 0:
        section.failed = f"exit {done.returncode}: {done.stderr.strip()[-2000:]}"
    print(section.output[-3000:], flush=True)


def _json(section: Section) -> dict[str, object]:
    start = section.output.find("{")
    return json.loads(section.output[start:]) if start >= 0 else {}


def _agent(section: Section) -> list[Figure]:
    data = _json(section)

    def number(key: str) -> str:
        value = data.get(key)
        return f"{value:.1f}" if isinstance(value, int | float) else "?"

    heavy = data.get("heavy_modules_loaded") or "none"
    return [
        Figure(
            "agent overhead per evaluation cycle, median; max",
            f"{number('overhead_ms_median')} ms; {number('overhead_ms_max')} ms",
            "< 100 ms",
        ),
        Figure(
            "agent peak RSS, evaluating; `run`",
            f"{number('peak_rss_mib')} MiB; {number('run_peak_rss_mib')} MiB",
            "< 60 MB",
        ),
        Figure("agent idle CPU between evaluations", f"{number('idle_cpu_percent')} %"),
        Figure(
            "import of the agent entry point, `-X importtime`; wall over bare Python",
            f"{number('import_agent_cli_ms_importtime')} ms; {number('import_wall_ms_over_bare_python')} ms",
            "< 500 ms",
            f"server or Pulumi modules loaded: {heavy}",
        ),
    ]


def _ingest(section: Section) -> list[Figure]:
    text = section.output
    rate = re.search(r"sustained: (\d+) reports/s", text)
    lat = re.search(r"p50 ([\d.]+)\s+p95 ([\d.]+)\s+p99 ([\d.]+)", text)
    alone = re.search(r"database alone.*?: (\d+) reports/s", text)
    ratio = re.search(r"ratio server / database alone: ([\d.]+)", text)
    cpu = re.search(r"cpu ms per report: server ([\d.]+)", text)
    sqlite = "SQLite" in section.title
    limit = f"database alone: {alone.group(1)} reports/s" if alone else ""
    if ratio:
        limit += f" (ratio {ratio.group(1)})"
    if cpu:
        limit += f"; server CPU {cpu.group(1)} ms per report"
    figures = [
        Figure(
            f"collector ingestion, {section.title.split('(')[-1].rstrip(')')}",
            f"{rate.group(1) if rate else '?'} reports/s (15 results each)",
            ">= 400 reports/s" if sqlite else ">= 500 reports/s and >= 0.5 of the database alone",
            limit,
        )
    ]
    if lat:
        figures.append(
            Figure("ingestion latency p50 / p95 / p99", f"{lat[1]} / {lat[2]} / {lat[3]} ms", "p99 < 500 ms")
        )
    return figures


def _state(section: Section) -> list[Figure]:
    figures = []
    for block in re.split(r"\n(?=\d[\d,]* devices x)", "\n" + section.output):
        header = re.search(r"([\d,]+) devices x (\d+) policies", block)
        totals = [int(t) for t in re.findall(r"\| (\d+) ms \|\s*$", block, flags=re.MULTILINE)]
        if header and totals:
            figures.append(
                Figure(
                    f"fleet state at an instant, {header[1]} devices x {header[2]} policies (worst instant)",
                    f"{max(totals)} ms",
                    "< 2 s",
                )
            )
    return figures


def _reports(section: Section) -> list[Figure]:
    figures = []
    copy = re.search(r"COPY status_runs TO STDOUT \(FORMAT csv\): ([\d.]+) s", section.output)
    for line in section.output.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) >= 7 and cells[0] in ("json", "csv", "html", "pdf"):
            streamed = cells[0] in ("json", "csv")
            figures.append(
                Figure(
                    f"report generation, {cells[0]}, {cells[1]} devices",
                    f"{cells[3]} s ({cells[4]}x COPY), peak RSS {cells[6]} MiB, {cells[5]} MiB",
                    "<= 10x COPY, peak RSS < 300 MiB" if streamed else "< 30 s",
                    f"COPY status_runs: {copy.group(1)} s" if copy else "",
                )
            )
    return figures


def _storage(section: Section) -> list[Figure]:
    data = _json(section)
    kept, full = data.get("kept_bytes_per_device_year"), data.get("full_history_bytes_per_device_year")
    return [
        Figure(
            "storage per device-year (status runs + report receipts)",
            f"{int(kept) / 1024:.0f} KiB" if isinstance(kept, int) else "?",
            "",
            f"full history: {int(full) / 1024:.0f} KiB ({data.get('ratio')}x)"
            if isinstance(full, int)
            else "",
        )
    ]


def _dashboard(section: Section) -> list[Figure]:
    data = _json(section)
    pages = data.get("pages")
    figures = []
    for label, page in (pages if isinstance(pages, dict) else {}).items():
        cold, warm, sql = page["cold_s"], page["warm_s"], page["aggregate_s"]
        figures.append(
            Figure(
                f"dashboard {label}, 100,000 devices x 15 policies: first view; repeated view",
                f"{cold * 1000:,.0f} ms ({cold / sql:.1f}x); {warm * 1000:,.0f} ms ({warm / sql:.2f}x)",
                "<= 5x its aggregate and < 1 s",
                f"SQL aggregate: {sql * 1000:,.0f} ms",
            )
        )
    if "peak_rss_mib" in data:
        figures.append(
            Figure(
                "dashboard server RSS after every page; peak",
                f"{data['rss_mib']:.0f}; {data['peak_rss_mib']:.0f} MiB",
            )
        )
    return figures


PLAN: list[tuple[Section, Extract, list[str]]] = [
    (
        Section("Collector ingestion (SQLite)", "collector_ingest.py", ["--sqlite"]),
        _ingest,
        ["--sqlite", "--seconds", "10", "--devices", "300"],
    ),
    (
        Section("Collector ingestion (PostgreSQL)", "collector_ingest.py", []),
        _ingest,
        ["--seconds", "10", "--devices", "300"],
    ),
    (
        Section("Point-in-time fleet state (PostgreSQL)", "collector_state.py", []),
        _state,
        ["--devices", "10000", "--repeats", "1"],
    ),
    (
        Section("Dashboard pages (PostgreSQL)", "dashboard_pages.py", []),
        _dashboard,
        ["--devices", "10000", "--repeats", "1"],
    ),
    (Section("Report generation", "report_generation.py", []), _reports, ["--devices", "10000"]),
    (
        Section("Agent evaluation cycle", "agent_cycle.py", []),
        _agent,
        ["--cycles", "10", "--idle-seconds", "5"],
    ),
    (Section("Storage per device-year", "storage.py", []), _storage, ["--devices", "3", "--days", "60"]),
]


def _docstring(script: str) -> str:
    module = ast.parse((BENCH / script).read_text("utf-8"))
    return (ast.get_docstring(module) or "").strip()


def _machine() -> str:
    cpu = (
        next(
            (
                ln.split(":", 1)[1].strip()
                for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")
            ),
            platform.processor(),
        )
        if Path("/proc/cpuinfo").exists()
        else platform.processor()
    )
    memory = ""
    if Path("/proc/meminfo").exists():
        total_kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {total_kib / 2**20:.0f} GiB"
    return f"{platform.platform()}, {cpu}, {os.cpu_count()} CPUs{memory}, Python {platform.python_version()}"


def _commit() -> str:
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    return done.stdout.strip() or "unknown"


def write_results(sections: list[Section], *, quick: bool, started: datetime) -> str:
    lines = [
        "# Benchmark results",
        "",
        f"Written by `python -m bench{' --quick' if quick else ''}` on {started:%Y-%m-%d %H:%M} UTC, commit "
        f"`{_commit()}`.",
        f"Machine: {_machine()}. PostgreSQL on 127.0.0.1:5432 ({_postgres_version()}).",
        "Each benchmark ran as its own process, one after another, on an otherwise idle machine.",
        "Analyses of earlier runs and what limits each figure: [NOTES.md](NOTES.md).",
        "",
        "## Figures against targets",
        "",
        "| figure | measured | target | limit measured in the same run |",
        "|---|---|---|---|",
    ]
    for section in sections:
        for figure in section.figures:
            lines.append(f"| {figure.name} | {figure.value} | {figure.target} | {figure.limit} |")
        if section.failed:
            lines.append(f"| {section.title} | **failed**: see below | | |")
    for section in sections:
        lines += [
            "",
            f"## {section.title}",
            "",
            f"`python bench/{section.script} {' '.join(section.args)}` ({section.seconds:.0f} s)",
            "",
            "Method:",
            "",
            "```text",
            _docstring(section.script),
            "```",
            "",
            "Output:",
            "",
        ]
        lines += ["```text", section.output, "```"] if "|---" not in section.output else [section.output]
        if section.failed:
            lines += ["", f"**Failed**: `{section.failed}`"]
    return "\n".join(lines) + "\n"


def _postgres_version() -> str:
    try:
        import psycopg

        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres") as conn:
            row = conn.execute("SHOW server_version").fetchone()
            return f"PostgreSQL {row[0]}" if row else "PostgreSQL"
    except Exception as exc:
        return f"version unknown: {exc.__class__.__name__}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="smaller sizes: checks the harness, not the targets"
    )
    parser.add_argument("--out", type=Path, default=BENCH / "RESULTS.md")
    parser.add_argument(
        "--only", nargs="*", help="run only the sections whose script names contain these words"
    )
    args = parser.parse_args()
    started = datetime.now(UTC)
    sections = []
    for section, extract, quick_args in PLAN:
        if args.only and not any(word in section.script for word in args.only):
            continue
        section.args = quick_args if args.quick else section.args
        _run(section)
        if not section.failed:
            section.figures = extract(section)
        sections.append(section)
    args.out.write_text(write_results(sections, quick=args.quick, started=started), "utf-8")
    print(f"wrote {args.out}")
    if any(s.failed for s in sections):
        sys.exit(1)


if __name__ == "__main__":
    main()
