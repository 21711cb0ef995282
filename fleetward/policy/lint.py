"""`fleetward policies lint`: everything the loader checks, plus "does it run on osqueryd".

For each policy, each platform it declares and each osquery release the catalogue supports
(catalogue.yaml), the rendered query (baseline CTE included) is compiled with EXPLAIN in the embedded
engine, whose tables are exactly that release's for that platform, plus the catalogue's extension
tables. A syntax error, a table or column the release lacks, or a function osquery does not register
fails to compile. Then the query runs on every recorded device of those platforms: what only fails when
run (a bad `version_compare` call, a required column without a constraint) fails there. A table the
device recording marks as failing is the device's problem, not the policy's, and is not reported.
Problems are reported at the line of `query:`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from fleetward.errors import Problem, QueryError
from fleetward.policy.baseline import render_query
from fleetward.policy.catalogue import build_catalogue, default_policies_dir
from fleetward.policy.loader import CatalogueSource, read_catalogue
from fleetward.policy.model import Platform, Policy
from fleetward.recorded.engine import RecordedEngine
from fleetward.recorded.model import RecordedDevice, load_devices
from fleetward.recorded.schema import Table


def lint_catalogue(
    path: Path | None, at: datetime, devices: Sequence[RecordedDevice] | None = None
) -> list[Problem]:
    """Every problem in the catalogue at `path`, sorted by file and line.

    `devices` defaults to the shipped recorded devices; pass [] to compile only.
    """
    source = read_catalogue(path or default_policies_dir())
    problems = list(source.problems)
    problems.extend(check_sql(source, at, load_devices() if devices is None else devices))
    return sorted(set(problems), key=lambda p: (p.path, p.line, p.message))


def check_sql(source: CatalogueSource, at: datetime, devices: Sequence[RecordedDevice] = ()) -> list[Problem]:
    # A policy whose baseline is missing cannot be rendered; that is already reported.
    renderable = {
        pid: p for pid, p in source.policies.items() if p.baseline is None or p.baseline in source.baselines
    }
    catalogue = build_catalogue(
        CatalogueSource(
            root=source.root, policies=renderable, baselines=source.baselines, frameworks=source.frameworks
        )
    )
    extensions = source.manifest.tables()
    queries = {policy.id: render_query(policy, catalogue, at) for policy in catalogue.policies}
    problems: list[Problem] = []
    uncompilable: set[str] = set()

    def report(policy: Policy, message: str) -> None:
        problems.append(Problem(source.path(policy.id), source.line(policy.id, "query"), message))

    for release in source.manifest.osquery_releases:
        for platform in Platform:
            chosen = [p for p in catalogue.policies if p.applies_to(platform)]
            if not chosen:
                continue
            engine = _engine(_empty_device(platform, release, at), extensions)
            try:
                for policy in chosen:
                    try:
                        engine.query("EXPLAIN " + queries[policy.id])
                    except QueryError as exc:
                        uncompilable.add(policy.id)
                        report(
                            policy,
                            f"query does not compile against osquery {release}'s {platform.value} schema: {exc}",
                        )
            finally:
                engine.close()
    # Run what compiled on every recorded device of its platforms.
    for device in devices:
        chosen = [p for p in catalogue.policies if p.applies_to(device.platform) and p.id not in uncompilable]
        if not chosen:
            continue
        engine = _engine(device, extensions)
        recorded_failures = set(device.errors.values())
        try:
            for policy in chosen:
                try:
                    engine.query(queries[policy.id])
                except QueryError as exc:
                    if str(exc) in recorded_failures:
                        continue
                    report(
                        policy,
                        f"query fails when run on recorded device {device.name} "
                        f"(osquery {device.osquery_version}, {device.platform.value}): {exc}",
                    )
        finally:
            engine.close()
    return problems


def _engine(device: RecordedDevice, extensions: Sequence[Table]) -> RecordedEngine:
    return RecordedEngine(device, extension_tables=extensions)


def _empty_device(platform: Platform, release: str, at: datetime) -> RecordedDevice:
    return RecordedDevice(
        name=f"lint-{platform.value}", platform=platform, recorded_at=at, osquery_version=release
    )
