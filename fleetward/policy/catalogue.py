"""The catalogue: every policy, baseline and framework map, validated and frozen, with one digest.

`load_catalogue()` reads the shipped catalogue: `policies/` beside the package in a checkout, or
`fleetward/_catalogue/policies` inside the wheel (pyproject force-includes it there).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from fleetward.errors import PolicyError, PolicyLoadError
from fleetward.policy.baseline import Baseline
from fleetward.policy.frameworks import Framework
from fleetward.policy.loader import CatalogueSource, read_catalogue
from fleetward.policy.model import Platform, Policy, content_digest

_PACKAGE_DIR = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Catalogue:
    policies: tuple[Policy, ...]
    baselines: dict[str, Baseline]
    frameworks: dict[str, Framework]
    digest: str
    root: Path | None = None

    def __post_init__(self) -> None:
        # Frozen all the way down: the dicts are read-only views.
        object.__setattr__(self, "baselines", MappingProxyType(dict(self.baselines)))
        object.__setattr__(self, "frameworks", MappingProxyType(dict(self.frameworks)))

    def policy(self, policy_id: str) -> Policy:
        for policy in self.policies:
            if policy.id == policy_id:
                return policy
        raise PolicyError(
            f"no policy {policy_id!r} in the catalogue; known ids: {', '.join(p.id for p in self.policies)}"
        )

    def for_platform(self, platform: Platform) -> list[Policy]:
        return [p for p in self.policies if p.applies_to(platform)]

    def versions(self) -> dict[str, str]:
        return {p.id: p.version for p in self.policies}


def default_policies_dir() -> Path:
    """The repository's policies/ when running from a checkout, else the copy inside the wheel."""
    checkout = _PACKAGE_DIR.parent / "policies"
    if (_PACKAGE_DIR.parent / "pyproject.toml").is_file() and checkout.is_dir():
        return checkout
    return _PACKAGE_DIR / "_catalogue" / "policies"


def load_catalogue(path: Path | None = None) -> Catalogue:
    """Read and validate a catalogue; PolicyLoadError lists every problem as `path:line: message`."""
    source = read_catalogue(path or default_policies_dir())
    if source.problems:
        raise PolicyLoadError(source.problems)
    return build_catalogue(source)


def build_catalogue(source: CatalogueSource) -> Catalogue:
    policies = tuple(sorted(source.policies.values(), key=lambda p: p.id))
    frameworks = {fid: _with_evidence(f, policies) for fid, f in sorted(source.frameworks.items())}
    baselines = dict(sorted(source.baselines.items()))
    return Catalogue(
        policies=policies,
        baselines=baselines,
        frameworks=frameworks,
        digest=catalogue_digest(policies, baselines, frameworks),
        root=source.root,
    )


def _with_evidence(framework: Framework, policies: tuple[Policy, ...]) -> Framework:
    evidenced: dict[str, tuple[str, ...]] = {}
    for control in framework.controls:
        ids = tuple(p.id for p in policies if control.id in p.frameworks.get(framework.id, ()))
        if ids:
            evidenced[control.id] = ids
    return framework.model_copy(update={"evidenced_by": evidenced})


def catalogue_digest(
    policies: tuple[Policy, ...], baselines: dict[str, Baseline], frameworks: dict[str, Framework]
) -> str:
    payload: dict[str, Any] = {
        "policies": {p.id: p.version for p in policies},
        "baselines": {name: b.digest for name, b in baselines.items()},
        "frameworks": {fid: f.digest for fid, f in frameworks.items()},
    }
    return content_digest(payload)
