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

from infra.policypack.rules import (
    DIAGNOSTICS_RULE,
    EXPOSURE_RULE,
    RESOURCE_RULES,
    Rule,
    external_ingress_outside_vnet,
    missing_diagnostics,
)


def resource_validator(rule: Rule) -> Any:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        for message in rule.check(args.resource_type, args.props):
            report_violation(message, args.urn)

    return validate


def validate_diagnostics(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    for urn, message in missing_diagnostics((r.resource_type, r.urn, r) for r in args.resources):
        report_violation(message, urn)


def validate_exposure(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    items = (
        (
            r.resource_type,
            r.urn,
            r.props,
            {key: [d.urn for d in deps] for key, deps in (r.property_dependencies or {}).items()},
        )
        for r in args.resources
    )
    for urn, message in external_ingress_outside_vnet(items):
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
    built.append(
        StackValidationPolicy(
            name=EXPOSURE_RULE,
            description="Container apps with external ingress live in an internal (VNet-only) environment.",
            validate=validate_exposure,
            enforcement_level=EnforcementLevel.MANDATORY,
        )
    )
    return built
