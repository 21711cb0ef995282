"""Config validation: every problem is reported, each naming its config key."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from infra_support import example_raw, good_secrets

from infra.errors import ConfigError
from infra.validation import load_estate_config


def issues_for(raw: dict[str, Any], *, secrets: dict[str, Any] | None = None) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        load_estate_config(raw, secrets=secrets)
    return {issue.key: issue.message for issue in caught.value.issues}


def test_example_stack_is_valid() -> None:
    raw = example_raw()
    config = load_estate_config(raw, secrets=good_secrets(raw))
    assert config.vpn.sku == "VpnGw3AZ"
    assert config.vpn.expected_concurrent_users == 800


def test_all_problems_are_reported_together_with_their_keys() -> None:
    raw = copy.deepcopy(example_raw())
    raw["vpn"]["clientAddressPool"] = "10.60.0.0/22"
    raw["network"]["gatewaySubnet"] = "10.60.0.0/28"
    raw["vpn"]["sku"] = "VpnGw1AZ"
    issues = issues_for(raw)
    assert "overlaps" in issues["fleetward:vpn.clientAddressPool"]
    assert "/27 or larger" in issues["fleetward:network.gatewaySubnet"]
    assert "use VpnGw3AZ" in issues["fleetward:vpn.sku"]


def test_public_address_space_is_refused() -> None:
    raw = copy.deepcopy(example_raw())
    raw["vpn"]["practiceSites"][0]["addressSpaces"] = ["8.8.8.0/24"]
    assert "not private" in issues_for(raw)["fleetward:vpn.practiceSites[0].addressSpaces[0]"]


def test_practice_sites_must_not_overlap_each_other() -> None:
    raw = copy.deepcopy(example_raw())
    raw["vpn"]["practiceSites"][1]["addressSpaces"] = ["192.168.10.128/25"]
    assert "overlaps" in issues_for(raw)["fleetward:vpn.practiceSites[1].addressSpaces[0]"]


def test_subnet_outside_the_vnet_is_refused() -> None:
    raw = copy.deepcopy(example_raw())
    raw["network"]["databaseSubnet"] = "10.61.0.0/28"
    assert "not inside the VNet" in issues_for(raw)["fleetward:network.databaseSubnet"]


@pytest.mark.parametrize(("sku", "users"), [("VpnGw1AZ", 251), ("VpnGw2AZ", 501), ("VpnGw3AZ", 1001)])
def test_sku_must_carry_the_expected_users(sku: str, users: int) -> None:
    raw = copy.deepcopy(example_raw())
    raw["vpn"] |= {"sku": sku, "expectedConcurrentUsers": users}
    assert "carries" in issues_for(raw)["fleetward:vpn.sku"]


@pytest.mark.parametrize(("sku", "users"), [("VpnGw1AZ", 250), ("VpnGw2AZ", 500), ("VpnGw3AZ", 1000)])
def test_vpn_users_at_the_sku_limit_leave_no_headroom(sku: str, users: int) -> None:
    """Finding: 1,000 users exactly at VpnGw3AZ's limit passed; plans keep 20% below the SKU limit."""
    raw = copy.deepcopy(example_raw())
    raw["vpn"] |= {"sku": sku, "expectedConcurrentUsers": users}
    assert "80%" in issues_for(raw)["fleetward:vpn.sku"]


def test_hosts_without_zone_loss_headroom_are_refused() -> None:
    """Finding: 84 x 12 = 1,008 sessions for 1,000 users had no spare and no zone-loss capacity."""
    raw = copy.deepcopy(example_raw())
    raw["desktop"]["expectedConcurrentUsers"] = 1000
    raw["sessionHosts"]["count"] = 84
    message = issues_for(raw)["fleetward:sessionHosts.count"]
    assert "84 hosts leave 56 after losing a zone" in message
    assert "need 85" in message
    assert "at least 128 hosts" in message


def test_profile_share_must_hold_a_full_profile_per_user() -> None:
    """Finding: 10 TiB for 1,000 users is ~10 GiB each against FSLogix's 30 GB default maximum."""
    raw = copy.deepcopy(example_raw())
    raw["profileStorage"]["shareQuotaGiB"] = 10240
    assert "at least 30000 GiB" in issues_for(raw)["fleetward:profileStorage.shareQuotaGiB"]


def test_region_without_zones_is_refused_for_zonal_resources() -> None:
    raw = copy.deepcopy(example_raw()) | {"location": "ukwest"}
    assert "no availability zones" in issues_for(raw)["fleetward:location"]


@pytest.mark.parametrize("validity", ["PT1H", "P31D"])
def test_token_validity_outside_azure_limits_is_refused(validity: str) -> None:
    raw = copy.deepcopy(example_raw())
    raw["desktop"]["registrationTokenValidity"] = validity
    assert "PT2H to P30D" in issues_for(raw)["fleetward:desktop.registrationTokenValidity"]


def test_a_fixed_token_expiry_is_no_longer_a_key() -> None:
    """Finding: a fixed `registrationTokenExpiry` broke every plan of the example after 2026-12-15."""
    raw = copy.deepcopy(example_raw())
    raw["desktop"]["registrationTokenExpiry"] = "2026-12-15T00:00:00Z"
    assert "not a known config key" in issues_for(raw)["fleetward:desktop.registrationTokenExpiry"]


def test_required_tags_must_be_present() -> None:
    raw = copy.deepcopy(example_raw())
    del raw["tags"]["ods-code"]
    assert "fleetward:tags.ods-code" in issues_for(raw)


def test_unknown_keys_are_refused_by_name() -> None:
    raw = copy.deepcopy(example_raw())
    raw["vpn"]["protocol"] = "SSTP"
    assert "not a known config key" in issues_for(raw)["fleetward:vpn.protocol"]


def test_sstp_is_not_an_accepted_protocol() -> None:
    raw = copy.deepcopy(example_raw())
    raw["vpn"]["clientProtocols"] = ["SSTP"]
    assert "fleetward:vpn.clientProtocols[0]" in issues_for(raw)


def test_missing_and_weak_secrets_are_named() -> None:
    raw = example_raw()
    secrets = good_secrets(raw) | {
        "siteSharedKeys": {"riverside-surgery": "short"},
        "collectorEnrollSecret": "too-short",
    }
    del secrets["collectorAdminToken"]
    issues = issues_for(raw, secrets=secrets)
    assert "--secret" in issues["fleetward:collectorAdminToken"]
    assert "shorter than 32" in issues["fleetward:collectorEnrollSecret"]
    assert "shorter than 32" in issues["fleetward:siteSharedKeys.riverside-surgery"]
    assert "is required" in issues["fleetward:siteSharedKeys.hillview-medical"]


def test_collector_image_must_be_pinned() -> None:
    raw = copy.deepcopy(example_raw())
    raw["collector"]["image"] = "ghcr.io/example/collector:latest"
    assert "not a pin" in issues_for(raw)["fleetward:collector.image"]
