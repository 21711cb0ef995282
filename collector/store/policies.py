"""The policy registry: what the collector knows about each policy id and every version seen.

Policies come from the shipped catalogue (registered at migrate and at startup) and from
published bundles, never from reports: a result for a policy the collector does not know is
refused (`unknown_policy`, listed in the report's acknowledgement) while the rest of the report
is ingested. Reports only add versions of known policies (`PolicyVersion`, source `report`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from collector.errors import CatalogueUnavailable
from collector.store.models import Policy, PolicyPlatform, PolicyVersion
from fleetward.errors import PolicyError
from fleetward.policy.catalogue import Catalogue
from fleetward.policy.model import Policy as PolicyDefinition

CATALOGUE = "catalogue"
REPORT = "report"


@dataclass(frozen=True)
class CatalogueData:
    policies: tuple[PolicyDefinition, ...]
    controls: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # framework -> control -> title
    framework_titles: Mapping[str, str] = field(default_factory=dict)


@functools.cache
def load_shipped_catalogue() -> CatalogueData:
    """The catalogue shipped with fleetward (policies/ in a checkout, or inside the wheel); read once."""
    from fleetward.policy.catalogue import load_catalogue

    try:
        return catalogue_data(load_catalogue())
    except PolicyError as exc:
        raise CatalogueUnavailable(
            f"the shipped policy catalogue does not load: {exc}; run `fleetward policies lint`"
        ) from exc


def catalogue_data(catalogue: Catalogue) -> CatalogueData:
    """Policies, and every framework's controls with their titles (mapped to a policy or not)."""
    controls: dict[str, dict[str, str]] = {}
    for policy in catalogue.policies:
        for framework_id, control_ids in policy.frameworks.items():
            for control_id in control_ids:
                controls.setdefault(framework_id, {}).setdefault(control_id, control_id)
    for framework_id, framework in catalogue.frameworks.items():
        for control in framework.controls:
            controls.setdefault(framework_id, {})[control.id] = control.title
    titles = {fid: f.title for fid, f in catalogue.frameworks.items()}
    return CatalogueData(catalogue.policies, controls, titles)


def register_catalogue(session: Session, policies: Iterable[PolicyDefinition], now: datetime) -> int:
    """Upsert each catalogue policy as the current definition of its id; returns how many."""
    count = 0
    for definition in policies:
        row = session.get(Policy, definition.id)
        if row is None:
            row = Policy(id=definition.id)
            session.add(row)
        row.version = definition.version
        row.title = definition.title
        row.severity = definition.severity.value
        row.platforms = [p.value for p in definition.platforms]
        row.grace_seconds = int(definition.grace.total_seconds())
        row.frameworks = {k: list(v) for k, v in definition.frameworks.items()}
        row.baseline = definition.baseline
        row.remediation = definition.remediation
        row.source = CATALOGUE
        row.updated_at = now
        session.flush()
        session.execute(delete(PolicyPlatform).where(PolicyPlatform.policy_id == definition.id))
        session.add_all(
            PolicyPlatform(policy_id=definition.id, platform=p.value) for p in definition.platforms
        )
        _record_version(session, definition.id, definition.version, now, CATALOGUE)
        count += 1
    session.flush()
    return count


class PolicyRegistry:
    """Records the versions of known policies that reports name; never defines a policy.

    Only the catalogue and published bundles define policies (`register_catalogue`): a device
    naming an id the collector does not know cannot add it (a laptop must not be able to grow
    what every auditor's report lists). Remembers what it has seen: the tables only grow.
    """

    def __init__(self) -> None:
        self._known: set[tuple[str, str]] = set()
        self._ids: set[str] = set()

    def known_ids(self, session: Session, policy_ids: Iterable[str]) -> set[str]:
        """Which of these ids are defined policies (cached once seen: policies are never removed)."""
        wanted = set(policy_ids)
        missing = wanted - self._ids
        if missing:
            self._ids.update(session.scalars(select(Policy.id).where(Policy.id.in_(missing))))
        return wanted & self._ids

    def ensure(
        self, session: Session, versions: Iterable[tuple[str, str]], now: datetime
    ) -> set[tuple[str, str]]:
        """Record unseen versions of known policies; returns them so the caller can `remember`
        them once its transaction has committed (a rollback must not leave them remembered).
        Pairs of unknown policies are ignored: call `known_ids` first to refuse them."""
        missing = {pair for pair in versions if pair not in self._known}
        if not missing:
            return missing
        ids = self.known_ids(session, {pid for pid, _ in missing})
        missing = {pair for pair in missing if pair[0] in ids}
        if not missing:
            return missing
        seen = set(
            session.execute(
                select(PolicyVersion.policy_id, PolicyVersion.version).where(PolicyVersion.policy_id.in_(ids))
            )
        )
        for policy_id, version in sorted(missing - seen):
            session.add(PolicyVersion(policy_id=policy_id, version=version, first_seen_at=now, source=REPORT))
        session.flush()
        return missing

    def remember(self, pairs: set[tuple[str, str]]) -> None:
        self._known.update(pairs)


def _record_version(session: Session, policy_id: str, version: str, now: datetime, source: str) -> None:
    if session.get(PolicyVersion, (policy_id, version)) is None:
        session.add(PolicyVersion(policy_id=policy_id, version=version, first_seen_at=now, source=source))
