"""Bring Fleet's policies in: read Fleet policy YAML, write fleetward catalogue files.

Two shapes of fleetdm/fleet are read:

- the standard query library (docs/01-Using-Fleet/standard-query-library/standard-query-library.yml):
  YAML documents `apiVersion: v1`, `kind: policy`, `spec: {name, query, description, resolution,
  platform, ...}`; documents of another kind (`report`, `query`) are skipped;
- GitOps policy files (it-and-security/lib/<platform>/policies/*.yml): a list of `{name, query,
  description, resolution, platform, critical, ...}`.

A Fleet policy passes when its query returns rows, and that is fleetward's verdict for a query without
a `compliant` column (docs/policies.md), so queries are kept word for word; one whose result has a
column named `compliant` is wrapped so its rows still mean pass. Ids are `fleet-` and the name as a
slug: the same Fleet policy always gets the same id. Each file records where it came from.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fleetward.errors import Problem
from fleetward.policy.model import Platform

FLEET_PLATFORMS = {
    "darwin": Platform.DARWIN,
    "macos": Platform.DARWIN,
    "windows": Platform.WINDOWS,
    "linux": Platform.LINUX,
}
# Fleet's `platform` also takes chrome; fleetward has no such osquery platform.
IGNORED_PLATFORMS = {"chrome"}
MAX_ID = 100


@dataclass(frozen=True)
class FleetPolicy:
    name: str
    query: str
    description: str
    resolution: str
    platforms: tuple[Platform, ...]
    critical: bool
    source: str

    @property
    def id(self) -> str:
        slug = re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-") or "policy"
        return ("fleet-" + slug)[:MAX_ID].rstrip("-")


@dataclass
class ImportResult:
    policies: list[FleetPolicy] = field(default_factory=list)
    skipped: int = 0
    problems: list[Problem] = field(default_factory=list)


def read_fleet_files(paths: Iterable[Path]) -> ImportResult:
    result = ImportResult()
    for path in paths:
        _read_file(path, result)
    _disambiguate(result)
    return result


def _read_file(path: Path, result: ImportResult) -> None:
    try:
        documents = list(yaml.safe_load_all(path.read_text("utf-8")))
    except (OSError, UnicodeDecodeError) as exc:
        result.problems.append(Problem(str(path), 1, f"cannot read the file: {exc}"))
        return
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", 0) + 1
        result.problems.append(Problem(str(path), line, f"not valid YAML: {exc}"))
        return
    for d_index, document in enumerate(documents):
        if document is None:
            continue
        if isinstance(document, dict) and "spec" in document:
            if str(document.get("kind", "")).lower() != "policy":
                result.skipped += 1
                continue
            _add(path, f"document {d_index + 1}", document.get("spec"), result)
        elif isinstance(document, list):
            for i, item in enumerate(document):
                _add(path, f"item {i + 1}", item, result)
        elif isinstance(document, dict) and isinstance(document.get("policies"), list):
            for i, item in enumerate(document["policies"]):
                _add(path, f"policies[{i}]", item, result)
        elif isinstance(document, dict) and "query" in document:
            _add(path, f"document {d_index + 1}", document, result)
        else:
            result.problems.append(
                Problem(
                    str(path),
                    1,
                    f"document {d_index + 1} is neither a Fleet policy spec (apiVersion/kind/spec) nor a list "
                    f"of policies (name, query, platform)",
                )
            )


def _add(path: Path, where: str, raw: Any, result: ImportResult) -> None:
    def problem(message: str) -> None:
        result.problems.append(Problem(str(path), 1, f"{where}: {message}"))

    if not isinstance(raw, dict):
        problem("a policy is a mapping with name and query")
        return
    name = str(raw.get("name") or "").strip()
    query = str(raw.get("query") or "").strip()
    if not name or not query:
        problem("a policy needs both `name` and `query`")
        return
    platforms, unknown = _platforms(raw.get("platform"))
    if unknown:
        problem(
            f"{name!r}: platform {', '.join(unknown)} is not one of darwin, windows, linux; imported without it"
        )
    if not platforms:
        problem(f"{name!r}: no platform fleetward knows; not imported")
        return
    result.policies.append(
        FleetPolicy(
            name=name,
            query=query,
            description=_text(raw.get("description")),
            resolution=_text(raw.get("resolution")),
            platforms=platforms,
            critical=bool(raw.get("critical", False)) or "critical" in _tags(raw.get("tags")),
            source=f"{path.as_posix()} ({where})",
        )
    )


def _platforms(value: Any) -> tuple[tuple[Platform, ...], list[str]]:
    # Fleet: empty or missing means every platform; else a comma-separated list.
    names = [p.strip().lower() for p in str(value or "").split(",") if p.strip()]
    if not names:
        return (Platform.DARWIN, Platform.LINUX, Platform.WINDOWS), []
    chosen: list[Platform] = []
    unknown = []
    for name in names:
        platform = FLEET_PLATFORMS.get(name)
        if platform is None:
            if name not in IGNORED_PLATFORMS:
                unknown.append(name)
            continue
        if platform not in chosen:
            chosen.append(platform)
    return tuple(chosen), unknown


def _tags(value: Any) -> set[str]:
    return {t.strip().lower() for t in str(value or "").split(",") if t.strip()}


def _text(value: Any) -> str:
    return re.sub(r"\s+", " ", str(value or "")).strip()


def _disambiguate(result: ImportResult) -> None:
    # Two different Fleet policies with one name (say, one per platform) keep apart, stably.
    seen: dict[str, FleetPolicy] = {}
    unique: list[FleetPolicy] = []
    for policy in result.policies:
        earlier = seen.get(policy.id)
        if earlier is not None and earlier.query == policy.query and earlier.platforms == policy.platforms:
            continue  # the same policy listed twice
        if earlier is not None:
            digest = hashlib.sha256(policy.query.encode()).hexdigest()[:6]
            policy = dataclasses.replace(policy, name=f"{policy.name} {digest}")
        seen[policy.id] = policy
        unique.append(policy)
    result.policies = unique


def catalogue_document(policy: FleetPolicy, query: str) -> dict[str, Any]:
    """The fleetward policy file for one Fleet policy (see docs/policies.md for the fields)."""
    fallback = f"Imported from Fleet: {policy.name}."
    return {
        "id": policy.id,
        "title": policy.name[:200],
        "severity": "critical" if policy.critical else "medium",
        "platforms": [p.value for p in policy.platforms],
        "rationale": policy.description if len(policy.description) >= 10 else fallback,
        "remediation": policy.resolution if len(policy.resolution) >= 10 else fallback,
        "query": query,
        "references": [f"Fleet policy {policy.name!r} from {policy.source}; Fleet semantics: rows mean pass"],
    }


def rows_mean_pass(query: str, result_columns: list[str] | None) -> str:
    """The query as fleetward runs it: verbatim, unless a result column is called `compliant`."""
    # Trailing spaces are dropped so the query can be written as a YAML block.
    text = "\n".join(line.rstrip() for line in query.strip().rstrip(";").strip().splitlines())
    if result_columns is not None and "compliant" in result_columns:
        return f"SELECT 1 AS fleet_row FROM (\n{text}\n)"
    return text


def dump_policy(document: dict[str, Any], header: str) -> str:
    return header + yaml.dump(document, Dumper=_BlockDumper, sort_keys=False, allow_unicode=True, width=100)


class _BlockDumper(yaml.SafeDumper):
    pass


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _str_representer)


def extension_sets_used(queries: Iterable[str]) -> list[str]:
    """The bundled extension sets whose tables the queries name (so lint knows orbit's tables)."""
    from fleetward.recorded.extensions import bundled_extension, bundled_extension_names

    used = []
    text = "\n".join(queries).lower()
    for name in bundled_extension_names():
        if any(re.search(rf"\b{re.escape(t)}\b", text) for t in bundled_extension(name).tables):
            used.append(name)
    return used


def write_catalogue(
    result: ImportResult, out: Path, columns_of: Callable[[FleetPolicy], list[str] | None]
) -> list[Path]:
    """Write one file per policy and a catalogue.yaml into `out`; `columns_of(policy)` gives the
    query's result columns (None when it does not compile, which lint then reports)."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    header = "# Imported from Fleet by `fleetward policies import`; edit the Fleet source and re-import.\n"
    for policy in result.policies:
        document = catalogue_document(policy, rows_mean_pass(policy.query, columns_of(policy)))
        path = out / f"{policy.id}.yaml"
        path.write_text(dump_policy(document, header), "utf-8")
        written.append(path)
    manifest = out / "catalogue.yaml"
    sets = extension_sets_used(p.query for p in result.policies)
    lines = [
        "# Written by `fleetward policies import` (fleetward/policy/manifest.py).",
        "# Fleet's policies may use tables of Fleet's orbit extension: lint and run them with those tables.",
        f"extensions: [{', '.join(sets)}]",
        "",
    ]
    manifest.write_text("\n".join(lines), "utf-8")
    written.append(manifest)
    return written
