"""Monitoring: the Log Analytics workspace, the AVD Insights data collection rule, and the diagnostic settings
other components attach to their objects.

The data collection rule carries the counters and event logs AVD Insights reads (learn
virtual-desktop/insights-use-azure-monitor-agent, "Log Analytics settings"; the same set as avdaccelerator
workload/bicep/modules/avdInsights). Its name must start with ``microsoft-avdi-`` for the Insights workbook to
find it. Session hosts run the Azure Monitor Agent and are associated with the rule (session_hosts.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
    session_host_rule_id: pulumi.Output[str]

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
        rule = monitor.DataCollectionRule(
            f"{name}-dcr-avdi",
            data_collection_rule_name=resource_name("microsoft-avdi", p.prefix),
            resource_group_name=p.resource_group_name,
            location=p.location,
            kind="Windows",
            description="AVD Insights: session host counters and event logs.",
            data_sources=avd_insights_sources(),
            destinations={"log_analytics": [{"name": "workspace", "workspace_resource_id": workspace.id}]},
            data_flows=[{"streams": ["Microsoft-Perf", "Microsoft-Event"], "destinations": ["workspace"]}],
            tags=dict(p.tags),
            opts=child(self),
        )
        self.workspace_id = workspace.id
        self.workspace_customer_id = workspace.customer_id
        self.session_host_rule_id = rule.id
        self.register_outputs(
            {
                "workspace_id": self.workspace_id,
                "workspace_customer_id": self.workspace_customer_id,
                "session_host_rule_id": self.session_host_rule_id,
            }
        )


_EVENT_LEVELS = "[System[(Level=2 or Level=3 or Level=4 or Level=0)]]"


def avd_insights_sources() -> dict[str, Any]:
    """The data sources of the AVD Insights rule (counters every 30 s and 60 s, AVD and FSLogix events)."""
    return {
        "performance_counters": [
            {
                "name": "perf-30s",
                "streams": ["Microsoft-Perf"],
                "sampling_frequency_in_seconds": 30,
                "counter_specifiers": [
                    "\\LogicalDisk(C:)\\Avg. Disk Queue Length",
                    "\\LogicalDisk(C:)\\Current Disk Queue Length",
                    "\\Memory\\Available Mbytes",
                    "\\Memory\\Page Faults/sec",
                    "\\Memory\\Pages/sec",
                    "\\Memory\\% Committed Bytes In Use",
                    "\\PhysicalDisk(*)\\Avg. Disk Queue Length",
                    "\\PhysicalDisk(*)\\Avg. Disk sec/Read",
                    "\\PhysicalDisk(*)\\Avg. Disk sec/Transfer",
                    "\\PhysicalDisk(*)\\Avg. Disk sec/Write",
                    "\\Processor Information(_Total)\\% Processor Time",
                    "\\User Input Delay per Process(*)\\Max Input Delay",
                    "\\User Input Delay per Session(*)\\Max Input Delay",
                    "\\RemoteFX Network(*)\\Current TCP RTT",
                    "\\RemoteFX Network(*)\\Current UDP Bandwidth",
                ],
            },
            {
                "name": "perf-60s",
                "streams": ["Microsoft-Perf"],
                "sampling_frequency_in_seconds": 60,
                "counter_specifiers": [
                    "\\LogicalDisk(C:)\\% Free Space",
                    "\\LogicalDisk(C:)\\Avg. Disk sec/Transfer",
                    "\\Terminal Services(*)\\Active Sessions",
                    "\\Terminal Services(*)\\Inactive Sessions",
                    "\\Terminal Services(*)\\Total Sessions",
                ],
            },
        ],
        "windows_event_logs": [
            {
                "name": "avd-events",
                "streams": ["Microsoft-Event"],
                "x_path_queries": [
                    f"Microsoft-Windows-TerminalServices-RemoteConnectionManager/Admin!*{_EVENT_LEVELS}",
                    f"Microsoft-Windows-TerminalServices-LocalSessionManager/Operational!*{_EVENT_LEVELS}",
                    "System!*",
                    f"Microsoft-FSLogix-Apps/Operational!*{_EVENT_LEVELS}",
                    "Application!*[System[(Level=2 or Level=3)]]",
                    f"Microsoft-FSLogix-Apps/Admin!*{_EVENT_LEVELS}",
                ],
            }
        ],
    }


def add_diagnostics(
    name: str,
    *,
    target_id: pulumi.Input[str],
    workspace_id: pulumi.Input[str],
    parent: pulumi.Resource,
    metrics: bool = False,
    logs: bool = True,
) -> monitor.DiagnosticSetting:
    """Send every log category (``allLogs``) of ``target_id`` to the workspace, parented to the caller.

    ``logs=False`` is for resources that emit metrics only at their own level (a storage account: its logs come
    from the blob/file/queue/table services below it; asking the account for logs fails the PUT).
    """
    return monitor.DiagnosticSetting(
        f"{name}-diag",
        name="to-log-analytics",
        resource_uri=target_id,
        workspace_id=workspace_id,
        logs=[{"category_group": "allLogs", "enabled": True}] if logs else None,
        metrics=[{"category": "AllMetrics", "enabled": True}] if metrics else None,
        opts=child(parent),
    )
