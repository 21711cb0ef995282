"""`fleetward policies lint`: everything the loader checks, plus the SQL itself.

For each policy and each platform it declares, the rendered query (baseline CTE included) is
compiled with EXPLAIN in the embedded engine, whose tables have exactly osquery's columns for that
platform. A syntax error, a table the platform lacks, a column osquery does not have, or a function
osquery does not register all fail to compile, and are reported at the line of `query:`.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from fleetward.errors import Problem, QueryError
from fleetward.policy.baseline import render_query
from fleetward.policy.catalogue import build_catalogue, default_policies_dir
from fleetward.policy.loader import CatalogueSource, read_catalogue
from fleetward.policy.model import Platform
from fleetward.recorded.engine import RecordedEngine
from fleetward.recorded.model import RecordedDevice


def lint_catalogue(path: Path | None, at: datetime) -> list[Problem]:
    """Every problem in the catalogue at `path`, sorted by file and line."""
    source = read_catalogue(path or default_policies_dir())
    problems = list(source.problems)
    problems.extend(check_sql(source, at))
    return sorted(set(problems), key=lambda p: (p.path, p.line, p.message))


def check_sql(source: CatalogueSource, at: datetime) -> list[Problem]:
    # A policy whose baseline is missing cannot be rendered; that is already reported.
    renderable = {
        pid: p for pid, p in source.policies.items() if p.baseline is None or p.baseline in source.baselines
    }
    catalogue = build_catalogue(
        CatalogueSource(
            root=source.root, policies=renderable, baselines=source.baselines, frameworks=source.frameworks
        )
    )
    engines: dict[Platform, RecordedEngine] = {}
    problems: list[Problem] = []
    try:
        for policy in catalogue.policies:
            sql = render_query(policy, catalogue, at)
            for platform in policy.platforms:
                engine = engines.get(platform)
                if engine is None:
                    engine = engines[platform] = RecordedEngine(_empty_device(platform, at))
                try:
                    engine.query("EXPLAIN " + sql)
                except QueryError as exc:
                    problems.append(
                        Problem(
                            source.path(policy.id),
                            source.line(policy.id, "query"),
                            f"query does not compile against osquery's {platform.value} schema: {exc}",
                        )
                    )
    finally:
        for engine in engines.values():
            engine.close()
    return problems


def _empty_device(platform: Platform, at: datetime) -> RecordedDevice:
    return RecordedDevice(name=f"lint-{platform.value}", platform=platform, recorded_at=at)
