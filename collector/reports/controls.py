"""Roll-up by framework control.

Controls map to policies through the policies' own `frameworks` field (one source of truth);
`policies/frameworks/*.yaml` gives the controls' titles and lists controls no policy evidences,
which the report shows with no devices so an auditor sees the gap.

A device is in scope of a control when at least one policy evidencing it applies to the device's
platform (a Windows laptop is not in scope of a FileVault-only control, whatever it reported), and
meets it when every such pair is compliant.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from collector.domain.fleet import FleetHistory, PolicyRecord
from collector.reports.model import ControlRollup, Rate


@dataclass(frozen=True)
class ControlDefinition:
    framework: str
    framework_title: str
    control: str
    control_title: str
    policy_ids: frozenset[str]


def _natural(text: str) -> tuple[tuple[int, int | str], ...]:
    """'9.5.2' before '10.1': numbers compare as numbers."""
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", text) if part)


def control_definitions(
    history: FleetHistory, policies: Sequence[PolicyRecord], framework: str | None
) -> ControlTally:
    evidence: dict[tuple[str, str], set[str]] = {}
    for framework_id, titles in history.controls.items():
        for control in titles:
            evidence.setdefault((framework_id, control), set())
    for policy in policies:
        for framework_id, mapped in policy.frameworks.items():
            for control in mapped:
                evidence.setdefault((framework_id, control), set()).add(policy.id)
    definitions = [
        ControlDefinition(
            framework=fw,
            framework_title=history.framework_titles.get(fw, fw),
            control=control,
            control_title=history.controls.get(fw, {}).get(control, ""),
            policy_ids=frozenset(ids),
        )
        for (fw, control), ids in evidence.items()
        if framework is None or fw == framework
    ]
    definitions.sort(key=lambda d: (d.framework, _natural(d.control)))
    return ControlTally(definitions)


class ControlTally:
    def __init__(self, definitions: list[ControlDefinition]) -> None:
        self.definitions = definitions
        self.met = [0] * len(definitions)
        self.in_scope = [0] * len(definitions)

    def add_device(self, present: set[str], noncompliant: set[str]) -> None:
        for index, definition in enumerate(self.definitions):
            if definition.policy_ids.isdisjoint(present):
                continue
            self.in_scope[index] += 1
            if definition.policy_ids.isdisjoint(noncompliant):
                self.met[index] += 1

    def rollups(self) -> list[ControlRollup]:
        return [
            ControlRollup(
                framework=d.framework,
                framework_title=d.framework_title,
                control=d.control,
                control_title=d.control_title,
                policy_ids=sorted(d.policy_ids),
                devices=Rate.of(self.met[i], self.in_scope[i]),
            )
            for i, d in enumerate(self.definitions)
        ]
