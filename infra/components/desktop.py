"""Desktop pool: pooled host pool, desktop application group, workspace, user assignment and scaling plan.

RDP properties serve general practice: NHS smartcards redirected (e-prescribing, patient records), camera and
microphone on (video consultations), drives and clipboard off unless the stack allows them, because both are
ways patient data leaves the session; USB, printer, COM port and MTP/PTP device redirection off for the same
reason (property names: learn virtual-desktop/rdp-properties). The registration token is read with the registration-token invoke: the
host pool's GET does not return it (pulumi-azure-native #3317, Azure/bicep #6105).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pulumi
from pulumi_azure_native import authorization, desktopvirtualization

from infra.components.base import (
    DESKTOP_VIRTUALIZATION_POWER_ON_OFF_CONTRIBUTOR,
    DESKTOP_VIRTUALIZATION_USER,
    PACKAGE,
    Placement,
    child,
    role_definition_id,
)
from infra.components.monitoring import add_diagnostics
from infra.config import DesktopConfig, ScalingConfig, expiry_text, registration_token_expiry
from infra.naming import resource_name
from infra.regions import UK_TIME_ZONE


def rdp_properties(config: DesktopConfig) -> str:
    """The host pool's custom RDP property string."""
    properties = [
        "redirectsmartcards:i:1",  # NHS smartcards
        "camerastoredirect:s:*",  # video consultations
        "audiocapturemode:i:1",
        "audiomode:i:0",
        "drivestoredirect:s:*" if config.drive_redirection else "drivestoredirect:s:",
        f"redirectclipboard:i:{int(config.clipboard_redirection)}",
        "usbdevicestoredirect:s:",  # no generic USB devices (the smartcard reader is redirected as a smartcard)
        "redirectprinters:i:0",
        "redirectcomports:i:0",
        "devicestoredirect:s:",  # no MTP/PTP phones or cameras (the webcam goes through camerastoredirect)
        "enablerdsaadauth:i:1",  # single sign-on to Entra-joined hosts
        "targetisaadjoined:i:1",
    ]
    return ";".join(properties) + ";"


def _time(text: str) -> dict[str, int]:
    hour, minute = text.split(":")
    return {"hour": int(hour), "minute": int(minute)}


def practice_hours_schedule(scaling: ScalingConfig) -> dict[str, Any]:
    """One weekday schedule: breadth-first while people log on, depth-first once the day winds down."""
    return {
        "name": "practice-hours",
        "days_of_week": list(scaling.days),
        "ramp_up_start_time": _time(scaling.ramp_up_start),
        "ramp_up_load_balancing_algorithm": "BreadthFirst",
        "ramp_up_minimum_hosts_pct": scaling.minimum_hosts_percent,
        "ramp_up_capacity_threshold_pct": 60,
        "peak_start_time": _time(scaling.peak_start),
        "peak_load_balancing_algorithm": "BreadthFirst",
        "ramp_down_start_time": _time(scaling.ramp_down_start),
        "ramp_down_load_balancing_algorithm": "DepthFirst",
        "ramp_down_minimum_hosts_pct": scaling.minimum_hosts_percent,
        "ramp_down_capacity_threshold_pct": 90,
        # Never log clinicians off mid-consultation; stop hosts only once they are empty.
        "ramp_down_force_logoff_users": False,
        "ramp_down_stop_hosts_when": "ZeroSessions",
        "ramp_down_wait_time_minutes": 30,
        "ramp_down_notification_message": "Practice hours are over; please save your work and sign out.",
        "off_peak_start_time": _time(scaling.off_peak_start),
        "off_peak_load_balancing_algorithm": "DepthFirst",
    }


@dataclass(frozen=True)
class DesktopPoolArgs:
    placement: Placement
    config: DesktopConfig
    workspace_id: pulumi.Input[str]
    now: datetime


class DesktopPool(pulumi.ComponentResource):
    """The AVD control plane of one region."""

    host_pool_id: pulumi.Output[str]
    host_pool_name: pulumi.Output[str]
    workspace_id: pulumi.Output[str]
    workspace_name: pulumi.Output[str]
    registration_token: pulumi.Output[str]

    def __init__(self, name: str, args: DesktopPoolArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{PACKAGE}:DesktopPool", name, None, opts)
        p, cfg = args.placement, args.config
        host_pool = desktopvirtualization.HostPool(
            f"{name}-hp",
            host_pool_name=resource_name("vdpool", p.prefix),
            resource_group_name=p.resource_group_name,
            location=p.location,
            host_pool_type="Pooled",
            load_balancer_type="BreadthFirst",
            preferred_app_group_type="Desktop",
            max_session_limit=cfg.max_session_limit,
            start_vm_on_connect=cfg.start_vm_on_connect,
            custom_rdp_property=rdp_properties(cfg),
            validation_environment=False,
            # Renewed by every deploy from the run's clock, so the stack works on any date; rounded to the hour
            # so repeated runs do not churn. Existing hosts ignore the new token (session_hosts.py).
            registration_info={
                "expiration_time": expiry_text(
                    registration_token_expiry(args.now, cfg.registration_token_validity)
                ),
                "registration_token_operation": "Update",
            },
            tags=dict(p.tags),
            opts=child(self),
        )
        app_group = desktopvirtualization.ApplicationGroup(
            f"{name}-dag",
            application_group_name=resource_name("vdag", p.prefix, "desktop"),
            resource_group_name=p.resource_group_name,
            location=p.location,
            application_group_type="Desktop",
            host_pool_arm_path=host_pool.id,
            friendly_name="GP practice desktop",
            tags=dict(p.tags),
            opts=child(self),
        )
        workspace = desktopvirtualization.Workspace(
            f"{name}-ws",
            workspace_name=resource_name("vdws", p.prefix),
            resource_group_name=p.resource_group_name,
            location=p.location,
            friendly_name="NHS GP remote desktop",
            application_group_references=[app_group.id],
            tags=dict(p.tags),
            opts=child(self),
        )
        authorization.RoleAssignment(
            f"{name}-users",
            principal_id=str(cfg.user_group_object_id),
            # Group, so ARM does not wait on replication to guess the principal type (avdaccelerator #197).
            principal_type="Group",
            role_definition_id=role_definition_id(p.subscription_id, DESKTOP_VIRTUALIZATION_USER),
            scope=app_group.id,
            opts=child(self),
        )
        # Autoscale and start-VM-on-connect act as the AVD service principal; without this role the scaling plan
        # is accepted but never starts or stops a host (learn virtual-desktop/autoscale-create-assign-scaling-plan;
        # object id, not app id: avdaccelerator #197). Resource-group scope: the hosts live in this group only.
        power_role = authorization.RoleAssignment(
            f"{name}-avd-power",
            principal_id=str(cfg.avd_service_principal_object_id),
            principal_type="ServicePrincipal",
            role_definition_id=role_definition_id(
                p.subscription_id, DESKTOP_VIRTUALIZATION_POWER_ON_OFF_CONTRIBUTOR
            ),
            scope=p.resource_group_id,
            opts=child(self),
        )
        scaling_plan = desktopvirtualization.ScalingPlan(
            f"{name}-scaling",
            scaling_plan_name=resource_name("vdscaling", p.prefix),
            resource_group_name=p.resource_group_name,
            location=p.location,
            time_zone=UK_TIME_ZONE,
            host_pool_type="Pooled",
            schedules=[practice_hours_schedule(cfg.scaling)],
            host_pool_references=[{"host_pool_arm_path": host_pool.id, "scaling_plan_enabled": True}],
            exclusion_tag="fleetward-scaling-exclude",
            tags=dict(p.tags),
            opts=child(self, depends_on=[power_role]),
        )
        for key, target in (
            ("hp", host_pool),
            ("dag", app_group),
            ("ws", workspace),
            ("scaling", scaling_plan),
        ):
            add_diagnostics(f"{name}-{key}", target_id=target.id, workspace_id=args.workspace_id, parent=self)

        token = desktopvirtualization.get_host_pool_registration_token_output(
            host_pool_name=host_pool.name,
            resource_group_name=p.resource_group_name,
            opts=pulumi.InvokeOutputOptions(parent=self, depends_on=[host_pool]),
        )
        self.registration_token = pulumi.Output.secret(token.apply(lambda result: str(result.token or "")))
        self.host_pool_id = host_pool.id
        self.host_pool_name = host_pool.name
        self.workspace_id = workspace.id
        self.workspace_name = workspace.name
        self.register_outputs(
            {
                "host_pool_id": self.host_pool_id,
                "host_pool_name": self.host_pool_name,
                "workspace_id": self.workspace_id,
                "workspace_name": self.workspace_name,
                "registration_token": self.registration_token,
            }
        )
