"""FSLogix profile storage: Azure Files premium reachable only through a private endpoint.

Public network access is off, TLS 1.2 is the minimum and shared-key access is off: hosts mount profiles with
Entra Kerberos identities rather than the storage key, which avdaccelerator #746 shows leaking into hosts.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import authorization, network, privatedns, storage

from infra.components.base import (
    PACKAGE,
    STORAGE_FILE_DATA_SMB_SHARE_CONTRIBUTOR,
    Placement,
    child,
    role_definition_id,
)
from infra.components.monitoring import add_diagnostics
from infra.config import ProfileStorageConfig
from infra.naming import compact_name, resource_name

FILE_PRIVATE_DNS_ZONE = "privatelink.file.core.windows.net"


@dataclass(frozen=True)
class ProfileStorageArgs:
    placement: Placement
    config: ProfileStorageConfig
    vnet_id: pulumi.Input[str]
    private_endpoint_subnet_id: pulumi.Input[str]
    workspace_id: pulumi.Input[str]
    user_group_object_id: str


class ProfileStorage(pulumi.ComponentResource):
    account_name: pulumi.Output[str]
    share_name: pulumi.Output[str]
    unc_path: pulumi.Output[str]

    def __init__(
        self, name: str, args: ProfileStorageArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(f"{PACKAGE}:ProfileStorage", name, None, opts)
        p = args.placement
        account = storage.StorageAccount(
            f"{name}-sa",
            account_name=compact_name("stfsl", p.prefix),
            resource_group_name=p.resource_group_name,
            location=p.location,
            kind="FileStorage",
            sku={"name": "Premium_ZRS" if p.zonal else "Premium_LRS"},
            minimum_tls_version="TLS1_2",
            enable_https_traffic_only=True,
            public_network_access="Disabled",
            allow_blob_public_access=False,
            allow_shared_key_access=False,
            network_rule_set={"default_action": "Deny", "bypass": "AzureServices"},
            azure_files_identity_based_authentication={"directory_service_options": "AADKERB"},
            tags=dict(p.tags),
            opts=child(self),
        )
        share = storage.FileShare(
            f"{name}-share",
            share_name="profiles",
            account_name=account.name,
            resource_group_name=p.resource_group_name,
            share_quota=args.config.share_quota_gib,
            enabled_protocols="SMB",
            opts=child(self),
        )
        zone = privatedns.PrivateZone(
            f"{name}-dns",
            private_zone_name=FILE_PRIVATE_DNS_ZONE,
            resource_group_name=p.resource_group_name,
            location="global",
            tags=dict(p.tags),
            opts=child(self),
        )
        privatedns.VirtualNetworkLink(
            f"{name}-dns-link",
            virtual_network_link_name=resource_name("vnl", p.prefix, "file"),
            private_zone_name=zone.name,
            resource_group_name=p.resource_group_name,
            location="global",
            virtual_network={"id": args.vnet_id},
            registration_enabled=False,
            tags=dict(p.tags),
            opts=child(self),
        )
        endpoint = network.PrivateEndpoint(
            f"{name}-pe",
            private_endpoint_name=resource_name("pe", p.prefix, "file"),
            resource_group_name=p.resource_group_name,
            location=p.location,
            subnet={"id": args.private_endpoint_subnet_id},
            private_link_service_connections=[
                {"name": "file", "private_link_service_id": account.id, "group_ids": ["file"]}
            ],
            tags=dict(p.tags),
            opts=child(self),
        )
        network.PrivateDnsZoneGroup(
            f"{name}-pe-dns",
            private_dns_zone_group_name="default",
            private_endpoint_name=endpoint.name,
            resource_group_name=p.resource_group_name,
            private_dns_zone_configs=[{"name": "file", "private_dns_zone_id": zone.id}],
            opts=child(self),
        )
        authorization.RoleAssignment(
            f"{name}-smb-users",
            principal_id=args.user_group_object_id,
            principal_type="Group",
            role_definition_id=role_definition_id(p.subscription_id, STORAGE_FILE_DATA_SMB_SHARE_CONTRIBUTOR),
            scope=account.id,
            opts=child(self),
        )
        # Storage accounts emit metrics only; file-access logs come from the file service below them.
        add_diagnostics(
            f"{name}-sa",
            target_id=account.id,
            workspace_id=args.workspace_id,
            parent=self,
            metrics=True,
            logs=False,
        )
        add_diagnostics(
            f"{name}-files",
            target_id=pulumi.Output.concat(account.id, "/fileServices/default"),
            workspace_id=args.workspace_id,
            parent=self,
        )
        self.account_name = account.name
        self.share_name = share.name
        self.unc_path = pulumi.Output.concat("\\\\", account.name, ".file.core.windows.net\\", share.name)
        self.register_outputs(
            {"account_name": self.account_name, "share_name": self.share_name, "unc_path": self.unc_path}
        )
