"""Monitoring: the Log Analytics workspace, and diagnostic settings other components attach to their objects."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import monitor, operationalinsights

from infra.components.base import PACKAGE, Placement, child
from infra.naming import resource_name


@dataclass(frozen=True)
class MonitoringArgs:
    placement: Placement
    retention_in_days: int


class Monitoring(pulumi.ComponentResource):
    """One Log Analytics workspace per stack: every AVD object, the gateway and storage log to it."""

    workspace_id: pulumi.Output[str]
    workspace_customer_id: pulumi.Output[str]

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{PACKAGE}:Monitoring", name, None, opts)
        p = args.placement
        workspace = operationalinsights.Workspace(
            f"{name}-law",
            workspace_name=resource_name("log", p.prefix),
            resource_group_name=p.resource_group_name,
            location=p.location,
            sku={"name": "PerGB2018"},
            retention_in_days=args.retention_in_days,
            tags=dict(p.tags),
            opts=child(self),
        )
        self.workspace_id = workspace.id
        self.workspace_customer_id = workspace.customer_id
        self.register_outputs(
            {"workspace_id": self.workspace_id, "workspace_customer_id": self.workspace_customer_id}
        )


def add_diagnostics(
    name: str,
    *,
    target_id: pulumi.Input[str],
    workspace_id: pulumi.Input[str],
    parent: pulumi.Resource,
    metrics: bool = False,
) -> monitor.DiagnosticSetting:
    """Send every log category (``allLogs``) of ``target_id`` to the workspace, parented to the caller."""
    return monitor.DiagnosticSetting(
        f"{name}-diag",
        name="to-log-analytics",
        resource_uri=target_id,
        workspace_id=workspace_id,
        logs=[{"category_group": "allLogs", "enabled": True}],
        metrics=[{"category": "AllMetrics", "enabled": True}] if metrics else None,
        opts=child(parent),
    )
