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
from infra.components.key_vault import KeyVault, KeyVaultArgs
from infra.components.monitoring import Monitoring, MonitoringArgs
from infra.components.network import Network, NetworkArgs
from infra.components.profile_storage import ProfileStorage, ProfileStorageArgs
from infra.components.session_hosts import SessionHosts, SessionHostsArgs
from infra.components.subscription import SubscriptionArgs, SubscriptionPrerequisites
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
    collector_admin_token: pulumi.Output[str]


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
        collector_admin_token=cfg.require_secret("collectorAdminToken"),
    )


def run(now: datetime | None = None) -> dict[str, Any]:
    """Read and validate the stack config, then build the estate.

    ``now`` is the deploy's clock (injected by tests and ``fleetward infra plan --now``); the host registration
    token expires ``desktop.registrationTokenValidity`` after it.
    """
    raw = raw_config()
    config = load_estate_config(raw, secrets={k: raw.get(k) for k in SECRET_KEYS})
    return build_estate(config, read_secrets(config), now=now or datetime.now(UTC))


def build_estate(config: EstateConfig, secrets: EstateSecrets, *, now: datetime) -> dict[str, Any]:
    """Create every component of the estate and export the outputs the platform team needs."""
    prefix = config.name_prefix
    tags = dict(config.tags) | {"managed-by": "fleetward-pulumi"}
    group = resources.ResourceGroup(
        "estate-rg", resource_group_name=resource_name("rg", prefix), location=config.location, tags=tags
    )
    subscription_id = authorization.get_client_config_output().subscription_id
    placement = Placement(
        resource_group_name=group.name,
        resource_group_id=group.id,
        location=config.location,
        tags=tags,
        prefix=prefix,
        zonal=has_availability_zones(config.location),
        subscription_id=subscription_id,
    )
    subscription = SubscriptionPrerequisites(
        "subscription", SubscriptionArgs(subscription_id, config.monitoring.defender_plans)
    )
    monitoring = Monitoring("monitoring", MonitoringArgs(placement, config.monitoring.retention_in_days))
    net = Network(
        "network",
        NetworkArgs(
            placement,
            config.network,
            config.vpn.client_address_pool,
            shortpath_public=config.desktop.rdp_shortpath_public,
        ),
    )
    vpn = VpnGateway(
        "vpn",
        VpnGatewayArgs(
            placement, config.vpn, net.gateway_subnet_id, monitoring.workspace_id, secrets.site_shared_keys
        ),
    )
    desktop = DesktopPool(
        "desktop", DesktopPoolArgs(placement, config.desktop, monitoring.workspace_id, now=now)
    )
    user_group = str(config.desktop.user_group_object_id)
    vault = KeyVault(
        "vault",
        KeyVaultArgs(
            placement,
            str(config.vpn.tenant_id),
            net.vnet_id,
            net.private_endpoint_subnet_id,
            monitoring.workspace_id,
            {
                "collector-admin-token": secrets.collector_admin_token,
                "collector-enroll-secret": secrets.collector_enroll_secret,
                # Break-glass until Windows LAPS rotates it on each host (host configuration script).
                "session-host-admin-password": secrets.session_host_admin_password,
            },
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
            profile_share=profiles.unc_path,
            profile_size_gib=config.profile_storage.profile_size_gib,
            data_collection_rule_id=monitoring.session_host_rule_id,
            depends_on=[subscription.encryption_at_host],
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
            monitoring.workspace_id,
            secret_uris=vault.secret_uris,
            secret_ids=vault.secret_ids,
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
            # Also in the VNet's DNS servers, so downloaded VPN profiles carry it (network.py).
            "dnsServers": [net.dns_server],
        },
        "profileShare": profiles.unc_path,
        "collectorUrl": collector.collector_url,
        "collectorMigrationsJob": collector.migrations_job_name,
        "keyVaultUri": vault.vault_uri,
        "logAnalyticsWorkspaceId": monitoring.workspace_id,
        "registrationToken": pulumi.Output.secret(desktop.registration_token),
    }
    for key, value in outputs.items():
        pulumi.export(key, value)
    return outputs
