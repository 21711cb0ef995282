"""Read a catalogue directory and collect every problem, each naming file, line and field.

    policies/<id>.yaml               one policy per file, id == file stem
    policies/catalogue.yaml          supported osquery releases and extension tables (manifest.py)
    policies/baselines/<name>.yaml   patch floors and end-of-servicing dates per OS release
    policies/frameworks/<id>.yaml    controls of DSPT, Cyber Essentials, CIS Controls, NCSC

Nothing here stops at the first mistake: `read_catalogue` returns all it could read plus the list of
problems, so `lint` can print them all and `load_catalogue` can refuse a catalogue with any.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from fleetward.errors import Problem
from fleetward.policy.baseline import Baseline, last_supported_day
from fleetward.policy.frameworks import Framework
from fleetward.policy.manifest import MANIFEST_NAME, CatalogueManifest, read_manifest
from fleetward.policy.model import Policy
from fleetward.policy.yamlsource import SourceDocument, read_yaml
from fleetward.recorded.versions import compare

ModelT = TypeVar("ModelT", bound=BaseModel)
YAML_SUFFIXES = (".yaml", ".yml")


@dataclass
class CatalogueSource:
    """What was read, where each policy came from, and what is wrong."""

    root: Path
    policies: dict[str, Policy] = field(default_factory=dict)
    baselines: dict[str, Baseline] = field(default_factory=dict)
    frameworks: dict[str, Framework] = field(default_factory=dict)
    documents: dict[str, SourceDocument] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    manifest: CatalogueManifest = field(default_factory=CatalogueManifest)

    def line(self, policy_id: str, *loc: str | int) -> int:
        document = self.documents.get(policy_id)
        return document.line_of(loc) if document else 1

    def path(self, policy_id: str) -> str:
        document = self.documents.get(policy_id)
        return str(document.path) if document else str(self.root)


def read_catalogue(root: Path) -> CatalogueSource:
    source = CatalogueSource(root=root)
    if not root.is_dir():
        source.problems.append(
            Problem(str(root), 1, "catalogue directory not found (expected policies/ with *.yaml files)")
        )
        return source
    source.manifest, manifest_problems = read_manifest(root)
    source.problems.extend(manifest_problems)
    for path in _yaml_files(root / "baselines"):
        baseline, document = _read_model(path, Baseline, source.problems, key="name")
        if baseline is not None and document is not None:
            source.problems.extend(check_baseline(baseline, document))
            source.baselines[baseline.name] = baseline
    for path in _yaml_files(root / "frameworks"):
        framework, document = _read_model(path, Framework, source.problems, key="id")
        if framework is not None and document is not None:
            source.problems.extend(_check_framework(framework, document))
            source.frameworks[framework.id] = framework
    for path in _yaml_files(root):
        if path.name == MANIFEST_NAME:
            continue
        document, problems = read_yaml(path)
        source.problems.extend(problems)
        if document is None:
            continue
        policy = _validate(document, Policy, source.problems, key="id")
        if policy is None:
            continue
        if policy.id in source.policies:
            source.problems.append(
                Problem(
                    str(path),
                    document.line_of(("id",)),
                    f"id: {policy.id!r} is already used by {source.path(policy.id)}; ids must be unique",
                )
            )
            continue
        source.policies[policy.id] = policy
        source.documents[policy.id] = document
    if not source.policies and not source.problems:
        source.problems.append(Problem(str(root), 1, "the catalogue has no policies (*.yaml files)"))
    source.problems.extend(_check_references(source))
    return source


def _yaml_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in YAML_SUFFIXES)


def _read_model(
    path: Path, model: type[ModelT], problems: list[Problem], key: str
) -> tuple[ModelT | None, SourceDocument | None]:
    document, read_problems = read_yaml(path)
    problems.extend(read_problems)
    if document is None:
        return None, None
    return _validate(document, model, problems, key), document


def _validate(
    document: SourceDocument, model: type[ModelT], problems: list[Problem], key: str
) -> ModelT | None:
    path = document.path
    if not isinstance(document.data, dict):
        problems.append(Problem(str(path), 1, f"expected a YAML mapping with fields such as {key!r}"))
        return None
    try:
        value = model.model_validate(document.data)
    except ValidationError as exc:
        problems.extend(document.problems_from(exc))
        return None
    name = getattr(value, key)
    if name != path.stem:
        problems.append(
            Problem(
                str(path), document.line_of((key,)), f"{key}: {name!r} must equal the file stem {path.stem!r}"
            )
        )
        return None
    return value


def check_baseline(baseline: Baseline, document: SourceDocument) -> list[Problem]:
    """Well-formed and ordered: what a monthly edit is most likely to get wrong."""
    out: list[Problem] = []

    def problem(loc: tuple[str | int, ...], message: str) -> None:
        out.append(Problem(str(document.path), document.line_of(loc), message))

    seen: set[str] = set()
    for r_index, release in enumerate(baseline.releases):
        where = ("releases", r_index)
        if release.release in seen:
            problem((*where, "release"), f"release {release.release!r} is listed more than once")
        seen.add(release.release)
        for edition in release.end_of_servicing:
            if edition != "*" and edition not in baseline.editions:
                problem(
                    (*where, "end_of_servicing", edition),
                    f"release {release.release}: edition {edition!r} is not one of {list(baseline.editions)}",
                )
        ends = [last_supported_day(e) for e in release.end_of_servicing.values() if e is not None]
        if (
            release.extended_support
            and ends
            and last_supported_day(release.extended_support.until) <= max(ends)
        ):
            problem((*where, "extended_support", "until"), "extended support must end after end of servicing")
        for f_index, floor in enumerate(release.floors):
            at = (*where, "floors", f_index)
            if floor.source not in baseline.sources:
                problem((*at, "source"), f"source {floor.source!r} is not defined under `sources:`")
            if not floor.floor.startswith(release.release + "."):
                problem(
                    (*at, "floor"),
                    f"floor {floor.floor!r} does not belong to release {release.release!r} "
                    f"(expected {release.release}.<patch>)",
                )
            if f_index == 0:
                continue
            previous = release.floors[f_index - 1]
            if floor.released <= previous.released:
                problem(
                    (*at, "released"),
                    f"floors must be in release order: {floor.released} is not after {previous.released}",
                )
            if compare(floor.floor, previous.floor) <= 0:
                problem(
                    (*at, "floor"),
                    f"floor {floor.floor!r} is not above the previous floor {previous.floor!r}",
                )
            if ends and floor.released > max(ends) and release.extended_support is None:
                problem((*at, "released"), "floor released after end of servicing, but no extended_support")
    return out


def _check_framework(framework: Framework, document: SourceDocument) -> list[Problem]:
    out = []
    for index, control in enumerate(framework.controls):
        if control.source not in framework.sources:
            line = document.line_of(("controls", index, "source"))
            out.append(
                Problem(
                    str(document.path),
                    line,
                    f"control {control.id}: source {control.source!r} is not defined",
                )
            )
    return out


def _check_references(source: CatalogueSource) -> list[Problem]:
    out: list[Problem] = []
    for policy_id, policy in source.policies.items():
        path = source.path(policy_id)
        if policy.baseline is not None:
            baseline = source.baselines.get(policy.baseline)
            if baseline is None:
                out.append(
                    Problem(
                        path,
                        source.line(policy_id, "baseline"),
                        f"baseline: {policy.baseline!r} not found (expected baselines/{policy.baseline}.yaml)",
                    )
                )
            elif baseline.platform not in policy.platforms:
                out.append(
                    Problem(
                        path,
                        source.line(policy_id, "baseline"),
                        f"baseline: {policy.baseline!r} is for {baseline.platform.value}, "
                        f"which is not one of the policy's platforms",
                    )
                )
        for framework_id, controls in policy.frameworks.items():
            framework = source.frameworks.get(framework_id)
            if framework is None:
                out.append(
                    Problem(
                        path,
                        source.line(policy_id, "frameworks", framework_id),
                        f"frameworks.{framework_id}: unknown framework "
                        f"(known: {', '.join(sorted(source.frameworks)) or 'none'})",
                    )
                )
                continue
            for index, control_id in enumerate(controls):
                if framework.control(control_id) is None:
                    out.append(
                        Problem(
                            path,
                            source.line(policy_id, "frameworks", framework_id, index),
                            f"frameworks.{framework_id}: control {control_id!r} is not in "
                            f"frameworks/{framework_id}.yaml",
                        )
                    )
    return out
