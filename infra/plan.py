"""The offline plan: what the program would create, with the policy pack's verdicts, rendered for review.

``build_plan`` is pure over an ``OfflineRun``; renderers turn the plan into a rich table, JSON or Markdown.
Secret inputs (wrapped by the engine) are shown as ``[secret]``; the stand-in values never appear.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from infra.offline import OfflineRun, RecordedResource, azure_name
from infra.policypack.rules import (
    DIAGNOSTICS_RULE,
    EXPOSURE_RULE,
    RESOURCE_RULES,
    external_ingress_outside_vnet,
    missing_diagnostics,
)

SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"
MASK = "[secret]"
# Settings worth a reviewer's eye, per input name, when present.
KEY_SETTINGS = (
    "location",
    "sku",
    "zones",
    "addressPrefix",
    "addressSpace",
    "publicNetworkAccess",
    "minimumTlsVersion",
    "hostPoolType",
    "maxSessionLimit",
    "registrationInfo",
    "timeZone",
    "securityProfile",
    "activeActive",
    "connectionProtocol",
    "gatewayIpAddress",
    "sharedKey",
)


def is_secret(value: Any) -> bool:
    return isinstance(value, Mapping) and SECRET_SIG_KEY in value


def unwrap(value: Any) -> Any:
    """Engine values as the policy runtime sees them: secrets unwrapped."""
    if is_secret(value):
        return unwrap(value["value"])
    if isinstance(value, Mapping):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


def mask(value: Any) -> Any:
    """Engine values for display: secrets replaced by ``[secret]``."""
    if is_secret(value):
        return MASK
    if isinstance(value, Mapping):
        return {k: mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v) for v in value]
    return value


@dataclass(frozen=True)
class Verdict:
    rule: str
    urn: str
    message: str


@dataclass(frozen=True)
class PlannedResource:
    type: str
    name: str
    azure_name: str
    parent: str
    settings: dict[str, Any]


@dataclass(frozen=True)
class Plan:
    resources: list[PlannedResource]
    verdicts: list[Verdict]
    outputs: dict[str, Any]

    @property
    def passed(self) -> bool:
        return not self.verdicts


def evaluate(resources: list[RecordedResource]) -> list[Verdict]:
    """Run every policy rule over the recorded resources, as the policy pack would."""
    verdicts = [
        Verdict(rule.name, r.urn, message)
        for r in resources
        if r.custom
        for rule in RESOURCE_RULES
        for message in rule.check(r.type, unwrap(r.inputs))
    ]
    verdicts += [
        Verdict(DIAGNOSTICS_RULE, urn, message)
        for urn, message in missing_diagnostics((r.type, r.urn, r) for r in resources)
    ]
    verdicts += [
        Verdict(EXPOSURE_RULE, urn, message)
        for urn, message in external_ingress_outside_vnet(
            (r.type, r.urn, unwrap(r.inputs), r.property_dependencies) for r in resources
        )
    ]
    return sorted(verdicts, key=lambda v: (v.rule, v.urn))


def _short_parent(parent: str) -> str:
    return parent.rsplit("::", 1)[-1] if parent and not parent.endswith("pulumi:pulumi:Stack") else ""


def build_plan(run: OfflineRun) -> Plan:
    planned = [
        PlannedResource(
            type=r.type,
            name=r.name,
            azure_name=azure_name(r.type, r.name, r.inputs),
            parent=_short_parent(r.parent),
            settings={k: mask(r.inputs[k]) for k in KEY_SETTINGS if k in r.inputs},
        )
        for r in run.resources
    ]
    outputs = {k: (MASK if k in run.secret_outputs else v) for k, v in sorted(run.outputs.items())}
    return Plan(sorted(planned, key=lambda p: (p.parent, p.type, p.name)), evaluate(run.resources), outputs)


def render_json(plan: Plan) -> str:
    return json.dumps(
        {
            "resources": [asdict(r) for r in plan.resources],
            "verdicts": [asdict(v) for v in plan.verdicts],
            "outputs": plan.outputs,
            "passed": plan.passed,
        },
        indent=2,
        sort_keys=True,
        default=str,
    )


def _compact(settings: Mapping[str, Any]) -> str:
    return "; ".join(f"{k}={json.dumps(v, default=str, separators=(',', ':'))}" for k, v in settings.items())


def render_markdown(plan: Plan) -> str:
    lines = [
        f"# Offline plan: {len(plan.resources)} resources",
        "",
        "| type | name | parent | key settings |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| `{r.type}` | {r.azure_name} | {r.parent} | {_compact(r.settings).replace('|', '/')} |"
        for r in plan.resources
    ]
    lines += ["", "## Policy verdicts", ""]
    lines += [f"- **{v.rule}** `{v.urn}`: {v.message}" for v in plan.verdicts] or ["All policies pass."]
    lines += ["", "## Stack outputs", ""] + [
        f"- `{k}`: {json.dumps(v, default=str)}" for k, v in plan.outputs.items()
    ]
    return "\n".join(lines) + "\n"


def render_table(plan: Plan) -> Any:
    """A rich renderable: resources table, then verdicts."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text  # plain text: "[secret]" must not be read as console markup

    resources = Table(title=f"{len(plan.resources)} resources", show_lines=False)
    for column in ("type", "name", "parent", "key settings"):
        resources.add_column(column, overflow="fold")
    for r in plan.resources:
        resources.add_row(Text(r.type), Text(r.azure_name), Text(r.parent), Text(_compact(r.settings)))
    verdicts = Table(title="policy verdicts")
    for column in ("rule", "urn", "message"):
        verdicts.add_column(column, overflow="fold")
    for v in plan.verdicts:
        verdicts.add_row(Text(v.rule), Text(v.urn), Text(v.message))
    if not plan.verdicts:
        verdicts.add_row("all", "-", "every policy passes")
    return Group(resources, verdicts)
