"""Wrap the plain rules as pulumi_policy policies. Importing pulumi_policy is harmless; constructing a
PolicyPack is not, and happens only in ``__main__``."""

from __future__ import annotations

from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.policy import Policy

from infra.policypack.rules import DIAGNOSTICS_RULE, RESOURCE_RULES, Rule, missing_diagnostics


def resource_validator(rule: Rule) -> Any:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        for message in rule.check(args.resource_type, args.props):
            report_violation(message, args.urn)

    return validate


def validate_diagnostics(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    for urn, message in missing_diagnostics((r.resource_type, r.urn, r) for r in args.resources):
        report_violation(message, urn)


def policies() -> list[Policy]:
    built: list[Policy] = [
        ResourceValidationPolicy(
            name=rule.name,
            description=rule.description,
            validate=resource_validator(rule),
            enforcement_level=EnforcementLevel.MANDATORY,
        )
        for rule in RESOURCE_RULES
    ]
    built.append(
        StackValidationPolicy(
            name=DIAGNOSTICS_RULE,
            description="Diagnostics on every AVD object, VPN gateway and storage account.",
            validate=validate_diagnostics,
            enforcement_level=EnforcementLevel.MANDATORY,
        )
    )
    return built
