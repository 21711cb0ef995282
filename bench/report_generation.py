"""Report generation at fleet scale: 100,000 devices x 15 policies (1.5 million pairs).

    .venv/bin/python bench/report_generation.py                  # every format, one process each
    .venv/bin/python bench/report_generation.py --devices 10000  # smaller
    .venv/bin/python bench/report_generation.py --one html       # one format in this process

Each format runs in its own process so that peak memory (ru_maxrss) belongs to that format alone.
The history is synthetic but shaped like a real fleet: 90% Windows, 7% macOS, 3% Ubuntu; each pair
has one to three status runs over the last 60 days, about 6% of pairs failing (a third of them for
longer than the grace), 0.5% erroring, 2% of devices silent for more than 30 days, one waiver per
200 devices and two evidence rows on every failing run. The report is an instant report (with
its 30-day trend). Printed times: building the history (not part of the report), `build_report`,
rendering, and peak resident memory of the whole process.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
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


def measure_one(fmt: str, devices: int) -> dict[str, float | int | str]:
    from collector.reports.build import build_report
    from collector.reports.render import renderer_for

    started = time.perf_counter()
    history = synthetic_history(devices)
    history_s = time.perf_counter() - started
    rss_history = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    report = build_report(history, at=AT, period=None, framework=None, generated_at=AT, source="bench")
    build_s = time.perf_counter() - started
    started = time.perf_counter()
    data = renderer_for(fmt).render(report)
    render_s = time.perf_counter() - started
    return {
        "format": fmt,
        "devices": devices,
        "pairs": len(report.pairs),
        "history_s": round(history_s, 1),
        "build_s": round(build_s, 1),
        "render_s": round(render_s, 1),
        "report_s": round(build_s + render_s, 1),
        "bytes": len(data),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        "rss_after_history_mib": rss_history // 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--one", choices=FORMATS, help="measure one format in this process (prints JSON)")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_one(args.one, args.devices)))
        return
    print(
        "| format | devices | pairs | build_report s | render s | report total s | output MiB | peak RSS MiB |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for fmt in FORMATS:
        out = subprocess.run(
            [sys.executable, __file__, "--one", fmt, "--devices", str(args.devices)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        r = json.loads(out.strip().splitlines()[-1])
        print(
            f"| {fmt} | {r['devices']:,} | {r['pairs']:,} | {r['build_s']} | {r['render_s']} | {r['report_s']} | "
            f"{r['bytes'] / 2**20:.1f} | {r['peak_rss_mib']:,} (history alone {r['rss_after_history_mib']:,}) |",
            flush=True,
        )


if __name__ == "__main__":
    main()
