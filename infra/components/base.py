"""What every component needs to place its resources: resource group, region, tags, name prefix."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi

PACKAGE = "fleetward:infra"


@dataclass(frozen=True)
class Placement:
    """Where and how resources are created: shared by every component of one stack."""

    resource_group_name: pulumi.Input[str]
    resource_group_id: pulumi.Input[str]
    location: str
    tags: Mapping[str, str]
    prefix: str
    zonal: bool
    subscription_id: pulumi.Input[str]


def child(parent: pulumi.Resource, **extra: object) -> pulumi.ResourceOptions:
    """Options for a child resource: parented to its component (plus any extra options)."""
    return pulumi.ResourceOptions(parent=parent, **extra)  # type: ignore[arg-type]


def secret(value: pulumi.Input[str]) -> pulumi.Output[str]:
    """``Output.secret`` with the type mypy cannot infer through the SDK's generic signature."""
    return pulumi.Output.secret(value)


def role_definition_id(subscription_id: pulumi.Input[str], role_guid: str) -> pulumi.Output[str]:
    """Full ARM id of a built-in role, as RoleAssignment requires."""
    return pulumi.Output.concat(
        "/subscriptions/", subscription_id, "/providers/Microsoft.Authorization/roleDefinitions/", role_guid
    )


# Built-in role GUIDs (AVM builtInRoleNames maps; avdaccelerator modules/identity/deploy.bicep).
DESKTOP_VIRTUALIZATION_USER = "1d18fff3-a72a-46b5-b4a9-0b38a3cd7e63"
VIRTUAL_MACHINE_USER_LOGIN = "fb879df8-f326-4884-b1cf-06f3ad86be52"
STORAGE_FILE_DATA_SMB_SHARE_CONTRIBUTOR = "0c867c2a-1d8c-454a-a3db-ab2ea1bdc8bb"
KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
DESKTOP_VIRTUALIZATION_POWER_ON_OFF_CONTRIBUTOR = "40c5ff49-9181-41f8-ae61-143b0e78555e"
