"""Collector hosting: an internal Container App, PostgreSQL on a private network, the enroll secret in Key Vault.

Laptops reach the collector over the VPN only: the Container Apps environment is internal to the VNet, the
database has no public access, and the app reads its enroll secret from Key Vault with a managed identity.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import (
    app,
    authorization,
    dbforpostgresql,
    keyvault,
    managedidentity,
    network,
    privatedns,
)

from infra.components.base import (
    KEY_VAULT_SECRETS_USER,
    PACKAGE,
    Placement,
    child,
    role_definition_id,
    secret,
)
from infra.components.monitoring import add_diagnostics
from infra.config import CollectorConfig
from infra.naming import compact_name, resource_name

VAULT_PRIVATE_DNS_ZONE = "privatelink.vaultcore.azure.net"
POSTGRES_ADMIN = "fleetward_admin"


@dataclass(frozen=True)
class CollectorHostingArgs:
    placement: Placement
    config: CollectorConfig
    tenant_id: str
    vnet_id: pulumi.Input[str]
    collector_subnet_id: pulumi.Input[str]
    database_subnet_id: pulumi.Input[str]
    private_endpoint_subnet_id: pulumi.Input[str]
    workspace_id: pulumi.Input[str]
    enroll_secret: pulumi.Output[str]
    postgres_password: pulumi.Output[str]


class CollectorHosting(pulumi.ComponentResource):
    collector_url: pulumi.Output[str]
    key_vault_uri: pulumi.Output[str]

    def __init__(
        self, name: str, args: CollectorHostingArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(f"{PACKAGE}:CollectorHosting", name, None, opts)
        p, cfg = args.placement, args.config
        tags = dict(p.tags)

        def private_zone(key: str, zone_name: str) -> privatedns.PrivateZone:
            zone = privatedns.PrivateZone(
                f"{name}-dns-{key}",
                private_zone_name=zone_name,
                resource_group_name=p.resource_group_name,
                location="global",
                tags=tags,
                opts=child(self),
            )
            privatedns.VirtualNetworkLink(
                f"{name}-dns-{key}-link",
                virtual_network_link_name=resource_name("vnl", p.prefix, key),
                private_zone_name=zone.name,
                resource_group_name=p.resource_group_name,
                location="global",
                virtual_network={"id": args.vnet_id},
                registration_enabled=False,
                tags=tags,
                opts=child(self),
            )
            return zone

        # The SDK renames the identity's ARM name argument to resource_name_ (resource_name is the Pulumi name).
        identity = managedidentity.UserAssignedIdentity(
            f"{name}-id",
            resource_name_=resource_name("id", p.prefix, "collector"),
            resource_group_name=p.resource_group_name,
            location=p.location,
            tags=tags,
            opts=child(self),
        )
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
        enroll_secret = keyvault.Secret(
            f"{name}-enroll-secret",
            secret_name="collector-enroll-secret",  # noqa: S106 - the name of the secret, not its value
            vault_name=vault.name,
            resource_group_name=p.resource_group_name,
            properties={"value": secret(args.enroll_secret), "content_type": "text/plain"},
            tags=tags,
            opts=child(self, additional_secret_outputs=["properties"]),
        )
        reader = authorization.RoleAssignment(
            f"{name}-kv-reader",
            principal_id=identity.principal_id,
            principal_type="ServicePrincipal",
            role_definition_id=role_definition_id(p.subscription_id, KEY_VAULT_SECRETS_USER),
            scope=vault.id,
            opts=child(self),
        )
        vault_zone = private_zone("vault", VAULT_PRIVATE_DNS_ZONE)
        vault_pe = network.PrivateEndpoint(
            f"{name}-kv-pe",
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
            f"{name}-kv-pe-dns",
            private_dns_zone_group_name="default",
            private_endpoint_name=vault_pe.name,
            resource_group_name=p.resource_group_name,
            private_dns_zone_configs=[{"name": "vault", "private_dns_zone_id": vault_zone.id}],
            opts=child(self),
        )
        add_diagnostics(f"{name}-kv", target_id=vault.id, workspace_id=args.workspace_id, parent=self)

        server_name = resource_name("psql", p.prefix, "collector")
        pg_zone = private_zone("postgres", f"{server_name}.private.postgres.database.azure.com")
        server = dbforpostgresql.Server(
            f"{name}-psql",
            server_name=server_name,
            resource_group_name=p.resource_group_name,
            location=p.location,
            version=cfg.postgres_version,
            sku={"name": cfg.postgres_sku, "tier": cfg.postgres_tier},
            storage={"storage_size_gb": cfg.postgres_storage_gb, "auto_grow": "Enabled"},
            administrator_login=POSTGRES_ADMIN,
            administrator_login_password=secret(args.postgres_password),
            network={
                "delegated_subnet_resource_id": args.database_subnet_id,
                "private_dns_zone_arm_resource_id": pg_zone.id,
                "public_network_access": "Disabled",
            },
            backup={"backup_retention_days": 35, "geo_redundant_backup": "Disabled"},
            tags=tags,
            opts=child(self, additional_secret_outputs=["administratorLoginPassword"]),
        )
        database = dbforpostgresql.Database(
            f"{name}-db",
            database_name="fleetward",
            server_name=server.name,
            resource_group_name=p.resource_group_name,
            opts=child(self),
        )
        add_diagnostics(f"{name}-psql", target_id=server.id, workspace_id=args.workspace_id, parent=self)

        environment = app.ManagedEnvironment(
            f"{name}-env",
            environment_name=resource_name("cae", p.prefix),
            resource_group_name=p.resource_group_name,
            location=p.location,
            vnet_configuration={"infrastructure_subnet_id": args.collector_subnet_id, "internal": True},
            workload_profiles=[{"name": "Consumption", "workload_profile_type": "Consumption"}],
            app_logs_configuration={"destination": "azure-monitor"},
            public_network_access="Disabled",
            zone_redundant=p.zonal,
            tags=tags,
            opts=child(self),
        )
        add_diagnostics(f"{name}-env", target_id=environment.id, workspace_id=args.workspace_id, parent=self)
        database_url = secret(
            pulumi.Output.format(
                "postgresql+psycopg://{0}:{1}@{2}/{3}?sslmode=require",
                POSTGRES_ADMIN,
                args.postgres_password,
                server.fully_qualified_domain_name,
                database.name,
            )
        )
        container_app = app.ContainerApp(
            f"{name}-app",
            container_app_name=resource_name("ca", p.prefix, "collector")[:32],
            resource_group_name=p.resource_group_name,
            location=p.location,
            managed_environment_id=environment.id,
            workload_profile_name="Consumption",
            identity={"type": "UserAssigned", "user_assigned_identities": [identity.id]},
            configuration={
                "ingress": {
                    "external": False,
                    "target_port": cfg.port,
                    "transport": "auto",
                    "allow_insecure": False,
                },
                "secrets": [
                    {
                        "name": "enroll-secret",
                        "key_vault_url": enroll_secret.properties.secret_uri,
                        "identity": identity.id,
                    },
                    {"name": "database-url", "value": database_url},
                ],
            },
            template={
                "containers": [
                    {
                        "name": "collector",
                        "image": cfg.image,
                        "resources": {"cpu": 0.5, "memory": "1Gi"},
                        "env": [
                            {"name": "FLEETWARD_ENROLL_SECRET", "secret_ref": "enroll-secret"},
                            {"name": "FLEETWARD_DATABASE_URL", "secret_ref": "database-url"},
                        ],
                    }
                ],
                "scale": {"min_replicas": cfg.min_replicas, "max_replicas": cfg.max_replicas},
            },
            tags=tags,
            opts=child(self, depends_on=[reader], additional_secret_outputs=["configuration"]),
        )
        self.collector_url = pulumi.Output.concat("https://", container_app.latest_revision_fqdn)
        self.key_vault_uri = vault.properties.vault_uri
        self.register_outputs({"collector_url": self.collector_url, "key_vault_uri": self.key_vault_uri})
