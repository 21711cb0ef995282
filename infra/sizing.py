"""Sizing with headroom: VPN gateway SKUs, their generations, session hosts and profile storage.

VPN numbers are the IKEv2/OpenVPN connection limits of the gateway SKU table (learn
``vpn-gateway-about-vpn-gateway-settings``, "Gateway SKUs by tunnel, connection, and throughput"); the AZ variants
have the same limits as their non-AZ twins. SSTP is capped at 128 regardless of SKU, which is one more reason this
project never enables it. Generations come from the same page's "Gateway SKUs by generation" table: VpnGw1AZ is
Generation1 only, VpnGw4AZ and VpnGw5AZ are Generation2 only.

Pure functions of plain numbers, tested directly and used by validation.
"""

from __future__ import annotations

import math
from typing import Literal

VpnSku = Literal["VpnGw1AZ", "VpnGw2AZ", "VpnGw3AZ", "VpnGw4AZ", "VpnGw5AZ"]
Generation = Literal["Generation1", "Generation2"]

P2S_CONNECTION_LIMIT: dict[str, int] = {
    "VpnGw1AZ": 250,
    "VpnGw2AZ": 500,
    "VpnGw3AZ": 1000,
    "VpnGw4AZ": 5000,
    "VpnGw5AZ": 10000,
}

# Site-to-site tunnel limits per SKU (same table); VpnGw4/5 are 100.
S2S_TUNNEL_LIMIT: dict[str, int] = {
    "VpnGw1AZ": 30,
    "VpnGw2AZ": 30,
    "VpnGw3AZ": 30,
    "VpnGw4AZ": 100,
    "VpnGw5AZ": 100,
}

# Which generations offer each SKU.
SKU_GENERATIONS: dict[str, frozenset[str]] = {
    "VpnGw1AZ": frozenset({"Generation1"}),
    "VpnGw2AZ": frozenset({"Generation1", "Generation2"}),
    "VpnGw3AZ": frozenset({"Generation1", "Generation2"}),
    "VpnGw4AZ": frozenset({"Generation2"}),
    "VpnGw5AZ": frozenset({"Generation2"}),
}

# Plan for at most this share of a SKU's P2S limit: a Monday-morning surge or a grown practice must not hit the
# ceiling, where new connections are refused.
VPN_HEADROOM = 0.8

# FSLogix's default maximum profile container (SizeInMBs 30000, learn fslogix/reference-configuration-settings).
DEFAULT_PROFILE_SIZE_GIB = 30


def generation_for(sku: str) -> Generation:
    """The newest generation that offers ``sku`` (Generation2 where both exist)."""
    return "Generation2" if "Generation2" in SKU_GENERATIONS[sku] else "Generation1"


def sku_offers_generation(sku: str, generation: str) -> bool:
    return generation in SKU_GENERATIONS.get(sku, frozenset())


def planned_p2s_capacity(sku: str) -> int:
    """Users a SKU is planned for: its connection limit less the headroom."""
    return math.floor(P2S_CONNECTION_LIMIT[sku] * VPN_HEADROOM)


def smallest_sku_for(concurrent_users: int) -> str | None:
    """The smallest zone-redundant SKU that carries ``concurrent_users`` P2S users with headroom, or None."""
    for sku, _limit in sorted(P2S_CONNECTION_LIMIT.items(), key=lambda item: item[1]):
        if planned_p2s_capacity(sku) >= concurrent_users:
            return sku
    return None


def hosts_for_sessions(concurrent_users: int, sessions_per_host: int) -> int:
    """Hosts that carry ``concurrent_users`` sessions, plus one spare (a host drained for patching or broken)."""
    return math.ceil(concurrent_users / sessions_per_host) + 1


def hosts_after_zone_loss(count: int, zones: int) -> int:
    """Hosts left when the fullest zone is lost, hosts being spread round-robin over ``zones``."""
    return count - math.ceil(count / zones) if zones > 1 else count


def smallest_host_count(concurrent_users: int, sessions_per_host: int, zones: int) -> int:
    """The fewest hosts that still carry the users, plus a spare, after losing a zone."""
    needed = hosts_for_sessions(concurrent_users, sessions_per_host)
    count = needed
    while hosts_after_zone_loss(count, zones) < needed:
        count += 1
    return count
