"""Collector hosting: Container Apps in an internal environment, PostgreSQL with Entra sign-in only, a migrations
job, and the bootstrap credentials from Key Vault.

- The environment is internal (its only address is a private IP in the collector subnet, learn
  container-apps/networking "Accessibility level"). Inside an internal environment, ``external: true`` ingress
  exposes the app on the environment's inbound IP, which is private, so it is reachable from the VNet and VPN
  clients; ``external: false`` ("reachable only from within the same Container Apps environment") would leave
  laptops unable to reach the collector (learn container-apps/ingress-overview "External and internal
  ingress"; PSRule Azure.ContainerApp.ExternalIngress). A private DNS zone named after the environment's default domain, with a
  wildcard record to its static IP, makes ``<app>.<default domain>`` resolve in the VNet (learn
  container-apps/vnet-custom-internal "DNS"); that FQDN is stable across revisions, unlike
  ``latestRevisionFqdn``.
- PostgreSQL accepts Microsoft Entra tokens only, no passwords (``authConfig``; the AVM flexible-server module
  defaults to the same). The collector's managed identity is the server's Entra administrator and signs in with
  an access token (collector/store/entra_auth.py reads ``fleetward_entra_client_id`` from the URL).
- A manual Container Apps job runs ``fleetward collector migrate`` with the same image and identity; run it after
  each image change (docs/platform-team.md). The app applies the bootstrap admin token and enroll secret
  (``FLEETWARD_BOOTSTRAP_ADMIN_TOKEN``, ``FLEETWARD_BOOTSTRAP_ENROLL_SECRET``, collector/settings.py) at start.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pulumi
from pulumi_azure_native import app, authorization, dbforpostgresql, managedidentity, privatedns
from pydantic import TypeAdapter

from infra.components.base import KEY_VAULT_SECRETS_USER, PACKAGE, Placement, child, role_definition_id
from infra.components.monitoring import add_diagnostics
from infra.config import CollectorConfig
from infra.naming import resource_name

DATABASE_NAME = "fleetward"
# Secrets in Key Vault the collector reads, and the environment variable each one becomes.
COLLECTOR_SECRETS: dict[str, str] = {
    "collector-admin-token": "FLEETWARD_BOOTSTRAP_ADMIN_TOKEN",
    "collector-enroll-secret": "FLEETWARD_BOOTSTRAP_ENROLL_SECRET",
}


def iso_duration(value: timedelta) -> str:
    """An ISO 8601 duration, as the collector's settings parse it (``P90D``)."""
    return str(TypeAdapter(timedelta).dump_python(value, mode="json"))


def database_url(user: str, host: str, client_id: str) -> str:
    """The collector's SQLAlchemy URL: no password (Entra token at connect time), every part URL-encoded."""
    return (
        f"postgresql+psycopg://{quote(user, safe='')}@{quote(host, safe='.-')}:5432/{DATABASE_NAME}"
        f"?sslmode=require&fleetward_entra_client_id={quote(client_id, safe='-')}"
    )


@dataclass(frozen=True)
class CollectorHostingArgs:
    placement: Placement
    config: CollectorConfig
    tenant_id: str
    vnet_id: pulumi.Input[str]
    collector_subnet_id: pulumi.Input[str]
    database_subnet_id: pulumi.Input[str]
    workspace_id: pulumi.Input[str]
    secret_uris: Mapping[str, pulumi.Input[str]]
    secret_ids: Mapping[str, pulumi.Input[str]]


class CollectorHosting(pulumi.ComponentResource):
    collector_url: pulumi.Output[str]
    migrations_job_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: CollectorHostingArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(f"{PACKAGE}:CollectorHosting", name, None, opts)
        p, cfg = args.placement, args.config
        tags = dict(p.tags)

        def private_zone(key: str, zone_name: pulumi.Input[str]) -> privatedns.PrivateZone:
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

        identity_name = resource_name("id", p.prefix, "collector")
        # The SDK renames the identity's ARM name argument to resource_name_ (resource_name is the Pulumi name).
        identity = managedidentity.UserAssignedIdentity(
            f"{name}-id",
            resource_name_=identity_name,
            resource_group_name=p.resource_group_name,
            location=p.location,
            tags=tags,
            opts=child(self),
        )
        readers = [
            authorization.RoleAssignment(
                f"{name}-kv-reader-{secret_name}",
                principal_id=identity.principal_id,
                principal_type="ServicePrincipal",
                role_definition_id=role_definition_id(p.subscription_id, KEY_VAULT_SECRETS_USER),
                scope=args.secret_ids[secret_name],
                opts=child(self),
            )
            for secret_name in COLLECTOR_SECRETS
        ]

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
            auth_config={
                "active_directory_auth": "Enabled",
                "password_auth": "Disabled",
                "tenant_id": args.tenant_id,
            },
            network={
                "delegated_subnet_resource_id": args.database_subnet_id,
                "private_dns_zone_arm_resource_id": pg_zone.id,
                "public_network_access": "Disabled",
            },
            backup={"backup_retention_days": 35, "geo_redundant_backup": "Disabled"},
            tags=tags,
            opts=child(self),
        )
        admin = dbforpostgresql.Administrator(
            f"{name}-psql-admin",
            server_name=server.name,
            resource_group_name=p.resource_group_name,
            object_id=identity.principal_id,
            principal_name=identity.name,
            principal_type="ServicePrincipal",
            tenant_id=args.tenant_id,
            opts=child(self),
        )
        database = dbforpostgresql.Database(
            f"{name}-db",
            database_name=DATABASE_NAME,
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
        env_zone = private_zone("cae", environment.default_domain)
        privatedns.PrivateRecordSet(
            f"{name}-dns-cae-wildcard",
            private_zone_name=env_zone.name,
            resource_group_name=p.resource_group_name,
            record_type="A",
            relative_record_set_name="*",
            ttl=300,
            a_records=[{"ipv4_address": environment.static_ip}],
            opts=child(self),
        )

        url = pulumi.Output.all(identity.name, server.fully_qualified_domain_name, identity.client_id).apply(
            lambda parts: database_url(str(parts[0]), str(parts[1]), str(parts[2]))
        )
        common_env: list[dict[str, Any]] = [
            {"name": "FLEETWARD_DATABASE_URL", "value": url},
            # The identity endpoint needs the client id to pick the user-assigned identity.
            {"name": "AZURE_CLIENT_ID", "value": identity.client_id},
        ]
        identity_settings = {"type": "UserAssigned", "user_assigned_identities": [identity.id]}
        app_name = resource_name("ca", p.prefix, "collector")[:32]
        app.ContainerApp(
            f"{name}-app",
            container_app_name=app_name,
            resource_group_name=p.resource_group_name,
            location=p.location,
            managed_environment_id=environment.id,
            workload_profile_name="Consumption",
            identity=identity_settings,
            configuration={
                "active_revisions_mode": "Single",
                "ingress": {
                    # Internal environment: "external" is VNet-wide, never the internet (module docstring).
                    "external": True,
                    "target_port": cfg.port,
                    "transport": "auto",
                    "allow_insecure": False,
                },
                "secrets": [
                    {
                        "name": secret_name,
                        "key_vault_url": args.secret_uris[secret_name],
                        "identity": identity.id,
                    }
                    for secret_name in COLLECTOR_SECRETS
                ],
            },
            template={
                "containers": [
                    {
                        "name": "collector",
                        "image": cfg.image,
                        "command": ["fleetward", "collector", "serve"],
                        "resources": {"cpu": 0.5, "memory": "1Gi"},
                        "env": [
                            *common_env,
                            {"name": "FLEETWARD_HOST", "value": "0.0.0.0"},  # noqa: S104 - inside the container
                            {"name": "FLEETWARD_PORT", "value": str(cfg.port)},
                            {
                                "name": "FLEETWARD_BOOTSTRAP_ENROLL_SECRET_VALIDITY",
                                "value": iso_duration(cfg.enroll_secret_validity),
                            },
                            *[
                                {"name": variable, "secret_ref": secret_name}
                                for secret_name, variable in COLLECTOR_SECRETS.items()
                            ],
                        ],
                        "probes": [
                            {"type": "Readiness", "http_get": {"path": "/readyz", "port": cfg.port}},
                            {"type": "Liveness", "http_get": {"path": "/healthz", "port": cfg.port}},
                        ],
                    }
                ],
                "scale": {"min_replicas": cfg.min_replicas, "max_replicas": cfg.max_replicas},
            },
            tags=tags,
            opts=child(self, depends_on=[*readers, admin, database]),
        )
        job = app.Job(
            f"{name}-migrate",
            job_name=resource_name("caj", p.prefix, "migrate")[:32],
            resource_group_name=p.resource_group_name,
            location=p.location,
            environment_id=environment.id,
            workload_profile_name="Consumption",
            identity=identity_settings,
            configuration={
                "trigger_type": "Manual",
                "replica_timeout": 1800,
                "replica_retry_limit": 1,
                "manual_trigger_config": {"parallelism": 1, "replica_completion_count": 1},
            },
            template={
                "containers": [
                    {
                        "name": "migrate",
                        "image": cfg.image,
                        "command": ["fleetward", "collector", "migrate"],
                        "resources": {"cpu": 0.5, "memory": "1Gi"},
                        "env": common_env,
                    }
                ]
            },
            tags=tags,
            opts=child(self, depends_on=[admin, database]),
        )
        self.collector_url = pulumi.Output.concat("https://", app_name, ".", environment.default_domain)
        self.migrations_job_name = job.name
        self.register_outputs(
            {"collector_url": self.collector_url, "migrations_job_name": self.migrations_job_name}
        )
