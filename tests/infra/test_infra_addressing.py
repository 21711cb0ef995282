from __future__ import annotations

import pytest

from infra.addressing import NamedRange, is_rfc1918, overlapping_pairs, parse_network, usable_hosts
from infra.naming import compact_name, session_host_name
from infra.sizing import smallest_sku_for


def test_rfc1918_only() -> None:
    assert is_rfc1918(parse_network("172.16.0.0/21"))
    assert not is_rfc1918(parse_network("100.64.0.0/10"))
    assert not is_rfc1918(parse_network("8.8.8.0/24"))


def test_host_bits_are_a_typo() -> None:
    with pytest.raises(ValueError, match="host bits"):
        parse_network("10.0.0.1/24")


def test_overlapping_pairs_names_both_ranges() -> None:
    a, b, c = (
        NamedRange(k, parse_network(n))
        for k, n in (("a", "10.0.0.0/16"), ("b", "10.0.4.0/24"), ("c", "10.1.0.0/16"))
    )
    assert overlapping_pairs([a, b, c]) == [(a, b)]


def test_azure_reserves_five_addresses() -> None:
    assert usable_hosts(parse_network("10.0.0.0/29")) == 3


def test_names_respect_azure_limits() -> None:
    name = compact_name("stfsl", "a-very-long-prefix-indeed")
    assert len(name) <= 24
    assert name.isalnum()
    assert name.islower()
    assert len(session_host_name("fw-uks-region", 999)) <= 15


def test_smallest_sku_for_users_keeps_headroom() -> None:
    assert smallest_sku_for(200) == "VpnGw1AZ"
    assert smallest_sku_for(250) == "VpnGw2AZ"  # 250 is VpnGw1AZ's ceiling, not a plan
    assert smallest_sku_for(1000) == "VpnGw4AZ"
