"""The composition root of the estate: validated config in, components wired together, stack outputs out.

``run`` is what ``infra/__main__.py`` calls under ``pulumi up``; tests and ``fleetward infra plan`` call it (or
``build_estate``) under ``pulumi.runtime.set_mocks``. Config is validated before the first resource is
registered, so an invalid stack creates nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pulumi
from pulumi_azure_native import authorization, resources

from infra.components.base import Placement
from infra.components.collector_hosting import CollectorHosting, CollectorHostingArgs
from infra.components.desktop import DesktopPool, DesktopPoolArgs
from infra.components.monitoring import Monitoring, MonitoringArgs
from infra.components.network import Network, NetworkArgs
from infra.components.profile_storage import ProfileStorage, ProfileStorageArgs
from infra.components.session_hosts import SessionHosts, SessionHostsArgs
from infra.components.vpn import VpnGateway, VpnGatewayArgs, client_configuration
from infra.config import NAMESPACE, SECRET_KEYS, EstateConfig
from infra.naming import resource_name
from infra.regions import has_availability_zones
from infra.validation import load_estate_config

# Where users subscribe to the AVD feed (Windows App / Remote Desktop client, Azure Public).
FEED_DISCOVERY_URL = "https://rdweb.wvd.microsoft.com/api/arm/feeddiscovery"
WEB_CLIENT_URL = "https://client.wvd.microsoft.com/arm/webclient"


@dataclass(frozen=True)
class EstateSecrets:
    """Secret config values, only ever held as secret Outputs."""

    session_host_admin_password: pulumi.Output[str]
    site_shared_keys: Mapping[str, pulumi.Output[str]]
    collector_enroll_secret: pulumi.Output[str]
    postgres_admin_password: pulumi.Output[str]


def raw_config(namespace: str = NAMESPACE) -> dict[str, Any]:
    """Every ``fleetward:*`` key of the stack, objects decoded from the JSON the engine passes."""
    keys = {field.alias or name for name, field in EstateConfig.model_fields.items()} | set(SECRET_KEYS)
    values: dict[str, Any] = {}
    for key in sorted(keys):
        text = pulumi.runtime.get_config(f"{namespace}:{key}")
        if text is None:
            continue
        try:
            values[key] = json.loads(text)
        except ValueError:
            values[key] = text
    return values


def read_secrets(config: EstateConfig) -> EstateSecrets:
    """Wrap the secret keys as secret Outputs; presence was checked by validation."""
    cfg = pulumi.Config(NAMESPACE)
    site_keys = cfg.get_secret_object("siteSharedKeys") or pulumi.Output.secret({})
    return EstateSecrets(
        session_host_admin_password=cfg.require_secret("sessionHostAdminPassword"),
        site_shared_keys={
            site.name: pulumi.Output.secret(site_keys.apply(lambda keys, n=site.name: str(keys[n])))  # type: ignore[misc]
            for site in config.vpn.practice_sites
        },
        collector_enroll_secret=cfg.require_secret("collectorEnrollSecret"),
        postgres_admin_password=cfg.require_secret("postgresAdminPassword"),
    )


def run(now: datetime | None = None) -> dict[str, Any]:
    """Read and validate the stack config, then build the estate. ``now`` is injected for tests."""
    raw = raw_config()
    config = load_estate_config(
        raw, now=now or datetime.now(UTC), secrets={k: raw.get(k) for k in SECRET_KEYS}
    )
    return build_estate(config, read_secrets(config))


def build_estate(config: EstateConfig, secrets: EstateSecrets) -> dict[str, Any]:
    """Create every component of the estate and export the outputs the platform team needs."""
    prefix = config.name_prefix
    tags = dict(config.tags) | {"managed-by": "fleetward-pulumi"}
    group = resources.ResourceGroup(
        "estate-rg", resource_group_name=resource_name("rg", prefix), location=config.location, tags=tags
    )
    placement = Placement(
        resource_group_name=group.name,
        resource_group_id=group.id,
        location=config.location,
        tags=tags,
        prefix=prefix,
        zonal=has_availability_zones(config.location),
        subscription_id=authorization.get_client_config_output().subscription_id,
    )
    monitoring = Monitoring("monitoring", MonitoringArgs(placement, config.monitoring.retention_in_days))
    net = Network("network", NetworkArgs(placement, config.network, config.vpn.client_address_pool))
    vpn = VpnGateway(
        "vpn",
        VpnGatewayArgs(
            placement, config.vpn, net.gateway_subnet_id, monitoring.workspace_id, secrets.site_shared_keys
        ),
    )
    desktop = DesktopPool("desktop", DesktopPoolArgs(placement, config.desktop, monitoring.workspace_id))
    user_group = str(config.desktop.user_group_object_id)
    SessionHosts(
        "session-hosts",
        SessionHostsArgs(
            placement,
            config.session_hosts,
            net.session_host_subnet_id,
            desktop.host_pool_name,
            desktop.registration_token,
            secrets.session_host_admin_password,
            user_group,
        ),
    )
    profiles = ProfileStorage(
        "profiles",
        ProfileStorageArgs(
            placement,
            config.profile_storage,
            net.vnet_id,
            net.private_endpoint_subnet_id,
            monitoring.workspace_id,
            user_group,
        ),
    )
    collector = CollectorHosting(
        "collector",
        CollectorHostingArgs(
            placement,
            config.collector,
            str(config.vpn.tenant_id),
            net.vnet_id,
            net.collector_subnet_id,
            net.database_subnet_id,
            net.private_endpoint_subnet_id,
            monitoring.workspace_id,
            secrets.collector_enroll_secret,
            secrets.postgres_admin_password,
        ),
    )

    p2s = client_configuration(config.vpn)
    outputs: dict[str, Any] = {
        "resourceGroupName": group.name,
        "workspaceName": desktop.workspace_name,
        "workspaceId": desktop.workspace_id,
        "hostPoolName": desktop.host_pool_name,
        "feedDiscoveryUrl": FEED_DISCOVERY_URL,
        "webClientUrl": WEB_CLIENT_URL,
        "gatewayPublicIps": vpn.public_ip_addresses,
        "p2s": {
            "protocols": p2s["vpn_client_protocols"],
            "authenticationTypes": p2s["vpn_authentication_types"],
            "tenant": p2s["aad_tenant"],
            "issuer": p2s["aad_issuer"],
            "audience": p2s["aad_audience"],
            "clientAddressPool": config.vpn.client_address_pool,
        },
        "profileShare": profiles.unc_path,
        "collectorUrl": collector.collector_url,
        "keyVaultUri": collector.key_vault_uri,
        "logAnalyticsWorkspaceId": monitoring.workspace_id,
        "registrationToken": pulumi.Output.secret(desktop.registration_token),
    }
    for key, value in outputs.items():
        pulumi.export(key, value)
    return outputs
