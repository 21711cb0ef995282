"""Validate the stack config before any resource exists, collecting every problem.

``load_estate_config`` turns the raw ``fleetward:*`` config mapping into an ``EstateConfig`` or raises
``ConfigError`` listing every issue with its config key. Shape errors come from pydantic; the checks here are
the ones that need several keys at once (address plan, sizing headroom, zones, token validity, tags, secrets).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from pydantic import ValidationError

from infra.addressing import NamedRange, is_rfc1918, outside, overlapping_pairs, parse_network, usable_hosts
from infra.config import MIN_SECRET_LENGTH, NAMESPACE, REQUIRED_TAGS, SECRET_KEYS, EstateConfig, config_key
from infra.errors import ConfigError, ConfigIssue
from infra.regions import KNOWN_REGIONS, ZONES, has_availability_zones
from infra.sizing import (
    P2S_CONNECTION_LIMIT,
    S2S_TUNNEL_LIMIT,
    VPN_HEADROOM,
    hosts_after_zone_loss,
    hosts_for_sessions,
    planned_p2s_capacity,
    smallest_host_count,
    smallest_sku_for,
)

# Azure accepts registration tokens valid for at most 30 days (maintainers of the AVM host-pool module, #30/#46)
# and at least one hour; the expiry is rounded down to the hour, so ask for two.
MAX_TOKEN_LIFETIME = timedelta(days=30)
MIN_TOKEN_LIFETIME = timedelta(hours=2)
MIN_SHARED_KEY_LENGTH = 32


def load_estate_config(
    raw: Mapping[str, Any], *, secrets: Mapping[str, object] | None = None
) -> EstateConfig:
    """Parse and check the ``fleetward`` config (keys without namespace). Raises ConfigError with all issues.

    ``secrets`` maps secret key names to their values only so that presence and per-site completeness can be
    checked; values other than their length are never read or echoed.
    """
    settings = {key: value for key, value in raw.items() if key not in SECRET_KEYS}
    try:
        config = EstateConfig.model_validate(settings)
    except ValidationError as exc:
        raise ConfigError([_issue_from_pydantic(error) for error in exc.errors()]) from exc
    issues = check_estate(config)
    if secrets is not None:
        issues += check_secrets(config, secrets)
    if issues:
        raise ConfigError(issues)
    return config


def _issue_from_pydantic(error: Mapping[str, Any]) -> ConfigIssue:
    location = tuple(error["loc"])
    key = config_key(*location) if location else f"{NAMESPACE}:"
    message = str(error["msg"])
    if error["type"] == "missing":
        message = "is required; set it in the stack file (see docs/reference/stack-config.md)"
    elif error["type"] == "extra_forbidden":
        message = "is not a known config key; check the spelling against docs/reference/stack-config.md"
    return ConfigIssue(key, message)


def check_estate(config: EstateConfig) -> list[ConfigIssue]:
    """Every cross-key rule; returns issues instead of raising so callers can merge them."""
    return [
        *_check_addresses(config),
        *_check_sizing(config),
        *_check_region(config),
        *_check_token_validity(config),
        *_check_tags(config),
        *_check_collector(config),
    ]


def _parse(key: str, text: str, issues: list[ConfigIssue]) -> NamedRange | None:
    try:
        network = parse_network(text)
    except ValueError as exc:
        issues.append(ConfigIssue(key, f"{text!r} is not an IPv4 network in CIDR form ({exc})"))
        return None
    if not is_rfc1918(network):
        issues.append(
            ConfigIssue(key, f"{network} is not private; use a range inside 10/8, 172.16/12 or 192.168/16")
        )
    return NamedRange(key, network)


def _check_addresses(config: EstateConfig) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    net = config.network
    vnet = _parse(config_key("network", "addressSpace"), net.address_space, issues)
    subnet_fields = {
        "gatewaySubnet": net.gateway_subnet,
        "sessionHostSubnet": net.session_host_subnet,
        "privateEndpointSubnet": net.private_endpoint_subnet,
        "collectorSubnet": net.collector_subnet,
        "databaseSubnet": net.database_subnet,
        "dnsResolverSubnet": net.dns_resolver_subnet,
    }
    subnets = [r for f, t in subnet_fields.items() if (r := _parse(config_key("network", f), t, issues))]
    pool = _parse(config_key("vpn", "clientAddressPool"), config.vpn.client_address_pool, issues)
    sites: list[NamedRange] = []
    for index, site in enumerate(config.vpn.practice_sites):
        for position, text in enumerate(site.address_spaces):
            key = config_key("vpn", "practiceSites", index, "addressSpaces", position)
            if (parsed := _parse(key, text, issues)) is not None:
                sites.append(parsed)

    for subnet in subnets:
        if vnet is not None and outside([vnet.network], subnet.network):
            issues.append(
                ConfigIssue(
                    subnet.key, f"{subnet.network} is not inside the VNet {vnet.network} ({vnet.key})"
                )
            )
    for first, second in overlapping_pairs(subnets):
        issues.append(ConfigIssue(second.key, f"{second.network} overlaps {first.network} ({first.key})"))
    outer = ([vnet] if vnet else []) + ([pool] if pool else []) + sites
    for first, second in overlapping_pairs(outer):
        issues.append(
            ConfigIssue(
                second.key,
                f"{second.network} overlaps {first.network} ({first.key}); "
                "every VNet, client pool and practice range must be disjoint",
            )
        )

    by_key = {subnet.key: subnet.network for subnet in subnets}
    gateway = by_key.get(config_key("network", "gatewaySubnet"))
    if gateway is not None and gateway.prefixlen > 27:
        issues.append(
            ConfigIssue(
                config_key("network", "gatewaySubnet"),
                f"/{gateway.prefixlen} is too small; GatewaySubnet must be /27 or larger",
            )
        )
    hosts = by_key.get(config_key("network", "sessionHostSubnet"))
    if hosts is not None and usable_hosts(hosts) < config.session_hosts.count:
        issues.append(
            ConfigIssue(
                config_key("network", "sessionHostSubnet"),
                f"{hosts} has {usable_hosts(hosts)} usable addresses for "
                f"{config.session_hosts.count} session hosts; use a larger prefix",
            )
        )
    resolver = by_key.get(config_key("network", "dnsResolverSubnet"))
    if resolver is not None and resolver.prefixlen > 28:
        issues.append(
            ConfigIssue(
                config_key("network", "dnsResolverSubnet"),
                "a DNS Private Resolver inbound endpoint needs a /28 or larger subnet",
            )
        )
    collector = by_key.get(config_key("network", "collectorSubnet"))
    if collector is not None and collector.prefixlen > 27:
        issues.append(
            ConfigIssue(
                config_key("network", "collectorSubnet"),
                "Container Apps workload-profile environments need a /27 or larger subnet",
            )
        )
    if pool is not None and pool.network.num_addresses < config.vpn.expected_concurrent_users:
        issues.append(
            ConfigIssue(
                pool.key,
                f"{pool.network} has {pool.network.num_addresses} addresses for "
                f"{config.vpn.expected_concurrent_users} expected users; use a larger prefix",
            )
        )
    return issues


def _check_sizing(config: EstateConfig) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = [*_check_host_headroom(config), *_check_profile_share(config)]
    vpn = config.vpn
    limit = P2S_CONNECTION_LIMIT[vpn.sku]
    if vpn.expected_concurrent_users > planned_p2s_capacity(vpn.sku):
        better = smallest_sku_for(vpn.expected_concurrent_users)
        advice = f"use {better}" if better else "split users across gateways"
        issues.append(
            ConfigIssue(
                config_key("vpn", "sku"),
                f"{vpn.sku} carries {limit} concurrent IKEv2/OpenVPN users, planned at most "
                f"{planned_p2s_capacity(vpn.sku)} ({VPN_HEADROOM:.0%}), but vpn.expectedConcurrentUsers is "
                f"{vpn.expected_concurrent_users}; {advice}",
            )
        )
    if len(vpn.practice_sites) > S2S_TUNNEL_LIMIT[vpn.sku]:
        issues.append(
            ConfigIssue(
                config_key("vpn", "practiceSites"),
                f"{vpn.sku} carries {S2S_TUNNEL_LIMIT[vpn.sku]} site-to-site tunnels; use VpnGw4AZ or larger",
            )
        )
    names = [site.name for site in vpn.practice_sites]
    for duplicate in sorted({n for n in names if names.count(n) > 1}):
        issues.append(
            ConfigIssue(config_key("vpn", "practiceSites"), f"site name {duplicate!r} is used twice")
        )
    if "IkeV2" in vpn.client_protocols and vpn.certificate_auth is None:
        issues.append(
            ConfigIssue(
                config_key("vpn", "clientProtocols"),
                "IkeV2 needs certificate auth (Entra ID works over OpenVPN only); "
                "set vpn.certificateAuth or remove IkeV2",
            )
        )
    return issues


def _check_host_headroom(config: EstateConfig) -> list[ConfigIssue]:
    """Peak sessions fit on the hosts left after losing the fullest zone, with one host to spare."""
    users, per_host = config.desktop.expected_concurrent_users, config.desktop.max_session_limit
    zones = len(ZONES) if has_availability_zones(config.location) else 1
    count = config.session_hosts.count
    needed = hosts_for_sessions(users, per_host)
    left = hosts_after_zone_loss(count, zones)
    if left >= needed:
        return []
    return [
        ConfigIssue(
            config_key("sessionHosts", "count"),
            f"{count} hosts leave {left} after losing a zone, but {users} sessions at {per_host} per host "
            f"need {needed} (one spare included); use at least "
            f"{smallest_host_count(users, per_host, zones)} hosts or raise desktop.maxSessionLimit",
        )
    ]


def _check_profile_share(config: EstateConfig) -> list[ConfigIssue]:
    storage = config.profile_storage
    needed = storage.users * storage.profile_size_gib
    if storage.share_quota_gib >= needed:
        return []
    return [
        ConfigIssue(
            config_key("profileStorage", "shareQuotaGiB"),
            f"{storage.share_quota_gib} GiB holds fewer than {storage.users} profiles of "
            f"{storage.profile_size_gib} GiB; provision at least {needed} GiB (at most 102400)",
        )
    ]


def _check_region(config: EstateConfig) -> list[ConfigIssue]:
    key = config_key("location")
    if config.location not in KNOWN_REGIONS:
        return [
            ConfigIssue(
                key, f"{config.location!r} is not a known UK region; use one of {sorted(KNOWN_REGIONS)}"
            )
        ]
    if not has_availability_zones(config.location):
        return [
            ConfigIssue(
                key,
                f"{config.location} has no availability zones, but the gateway SKU "
                f"{config.vpn.sku}, its zonal public IPs and zone-redundant storage need them; "
                "deploy this stack in uksouth",
            )
        ]
    return []


def _check_token_validity(config: EstateConfig) -> list[ConfigIssue]:
    validity = config.desktop.registration_token_validity
    if MIN_TOKEN_LIFETIME <= validity <= MAX_TOKEN_LIFETIME:
        return []
    return [
        ConfigIssue(
            config_key("desktop", "registrationTokenValidity"),
            f"{validity} is outside what Azure accepts; use a duration from PT2H to P30D (e.g. P14D)",
        )
    ]


def _check_tags(config: EstateConfig) -> list[ConfigIssue]:
    return [
        ConfigIssue(config_key("tags", tag), "required tag is missing or empty")
        for tag in REQUIRED_TAGS
        if not config.tags.get(tag, "").strip()
    ]


def _check_collector(config: EstateConfig) -> list[ConfigIssue]:
    collector = config.collector
    issues: list[ConfigIssue] = []
    if collector.min_replicas > collector.max_replicas:
        issues.append(
            ConfigIssue(config_key("collector", "minReplicas"), "is larger than collector.maxReplicas")
        )
    if ":" not in collector.image.rsplit("/", 1)[-1] and "@sha256:" not in collector.image:
        issues.append(ConfigIssue(config_key("collector", "image"), "pin the image by tag or digest"))
    elif collector.image.endswith(":latest"):
        issues.append(
            ConfigIssue(config_key("collector", "image"), "':latest' is not a pin; use a version or digest")
        )
    return issues


def check_secrets(config: EstateConfig, secrets: Mapping[str, object]) -> list[ConfigIssue]:
    """Secret keys present, and one strong enough pre-shared key per practice site."""
    issues: list[ConfigIssue] = []
    for name, length in MIN_SECRET_LENGTH.items():
        value = secrets.get(name)
        if not value:
            issues.append(
                ConfigIssue(config_key(name), f"is required; set it with `pulumi config set --secret {name}`")
            )
        elif len(str(value)) < length:
            issues.append(ConfigIssue(config_key(name), f"is shorter than {length} characters"))
    site_keys = secrets.get("siteSharedKeys") or {}
    if not isinstance(site_keys, Mapping):
        return [
            *issues,
            ConfigIssue(config_key("siteSharedKeys"), "must be an object mapping site name to key"),
        ]
    for site in config.vpn.practice_sites:
        value = site_keys.get(site.name)
        key = config_key("siteSharedKeys", site.name)
        if not value:
            issues.append(
                ConfigIssue(
                    key,
                    f"is required; set it with `pulumi config set --secret --path "
                    f"siteSharedKeys.{site.name}`",
                )
            )
        elif len(str(value)) < MIN_SHARED_KEY_LENGTH:
            issues.append(
                ConfigIssue(key, f"is shorter than {MIN_SHARED_KEY_LENGTH} characters; use a random key")
            )
    for extra in sorted(set(site_keys) - {site.name for site in config.vpn.practice_sites}):
        issues.append(
            ConfigIssue(config_key("siteSharedKeys", str(extra)), "names no site in vpn.practiceSites")
        )
    return issues
