"""The estate's Key Vault: RBAC only, purge protection, private endpoint, no public network access.

Holds the collector's bootstrap admin token and enroll secret and the session hosts' first administrator
password. Readers are granted Key Vault Secrets User on single secrets, not on the vault (RBAC scopes down to
``<vault id>/secrets/<name>``; learn key-vault/general/rbac-guide "Secret scope role assignment").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import keyvault, network, privatedns

from infra.components.base import PACKAGE, Placement, child, secret
from infra.components.monitoring import add_diagnostics
from infra.naming import compact_name, resource_name

VAULT_PRIVATE_DNS_ZONE = "privatelink.vaultcore.azure.net"


@dataclass(frozen=True)
class KeyVaultArgs:
    placement: Placement
    tenant_id: str
    vnet_id: pulumi.Input[str]
    private_endpoint_subnet_id: pulumi.Input[str]
    workspace_id: pulumi.Input[str]
    secrets: Mapping[str, pulumi.Output[str]]


class KeyVault(pulumi.ComponentResource):
    vault_id: pulumi.Output[str]
    vault_uri: pulumi.Output[str]
    secret_uris: dict[str, pulumi.Output[str]]
    secret_ids: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: KeyVaultArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{PACKAGE}:KeyVault", name, None, opts)
        p = args.placement
        tags = dict(p.tags)
        vault = keyvault.Vault(
            f"{name}-kv",
            vault_name=compact_name("kv", p.prefix),
            resource_group_name=p.resource_group_name,
            location=p.location,
            properties={
                "tenant_id": args.tenant_id,
                "sku": {"family": "A", "name": "standard"},
                "enable_rbac_authorization": True,
                "enable_purge_protection": True,
                "enable_soft_delete": True,
                "public_network_access": "Disabled",
                "network_acls": {"default_action": "Deny", "bypass": "AzureServices"},
            },
            tags=tags,
            opts=child(self),
        )
        self.secret_uris = {}
        self.secret_ids = {}
        for secret_name, value in args.secrets.items():
            stored = keyvault.Secret(
                f"{name}-{secret_name}",
                secret_name=secret_name,
                vault_name=vault.name,
                resource_group_name=p.resource_group_name,
                properties={"value": secret(value), "content_type": "text/plain"},
                tags=tags,
                opts=child(self, additional_secret_outputs=["properties"]),
            )
            # Versionless URI: Container Apps then follows rotations (learn container-apps/manage-secrets).
            self.secret_uris[secret_name] = pulumi.Output.concat(
                vault.properties.vault_uri, "secrets/", secret_name
            )
            self.secret_ids[secret_name] = stored.id
        zone = privatedns.PrivateZone(
            f"{name}-dns",
            private_zone_name=VAULT_PRIVATE_DNS_ZONE,
            resource_group_name=p.resource_group_name,
            location="global",
            tags=tags,
            opts=child(self),
        )
        privatedns.VirtualNetworkLink(
            f"{name}-dns-link",
            virtual_network_link_name=resource_name("vnl", p.prefix, "vault"),
            private_zone_name=zone.name,
            resource_group_name=p.resource_group_name,
            location="global",
            virtual_network={"id": args.vnet_id},
            registration_enabled=False,
            tags=tags,
            opts=child(self),
        )
        endpoint = network.PrivateEndpoint(
            f"{name}-pe",
            private_endpoint_name=resource_name("pe", p.prefix, "kv"),
            resource_group_name=p.resource_group_name,
            location=p.location,
            subnet={"id": args.private_endpoint_subnet_id},
            private_link_service_connections=[
                {"name": "vault", "private_link_service_id": vault.id, "group_ids": ["vault"]}
            ],
            tags=tags,
            opts=child(self),
        )
        network.PrivateDnsZoneGroup(
            f"{name}-pe-dns",
            private_dns_zone_group_name="default",
            private_endpoint_name=endpoint.name,
            resource_group_name=p.resource_group_name,
            private_dns_zone_configs=[{"name": "vault", "private_dns_zone_id": zone.id}],
            opts=child(self),
        )
        add_diagnostics(f"{name}-kv", target_id=vault.id, workspace_id=args.workspace_id, parent=self)
        self.vault_id = vault.id
        self.vault_uri = vault.properties.vault_uri
        self.register_outputs({"vault_id": self.vault_id, "vault_uri": self.vault_uri})
