"""VPN gateway sizing: how many concurrent point-to-site users each SKU carries.

Numbers are the IKEv2/OpenVPN connection limits of the gateway SKU table (learn
``vpn-gateway-about-vpn-gateway-settings``); the AZ variants have the same limits as their non-AZ twins.
SSTP is capped at 128 regardless of SKU, which is one more reason this project never enables it.
"""

from __future__ import annotations

from typing import Literal

VpnSku = Literal["VpnGw1AZ", "VpnGw2AZ", "VpnGw3AZ", "VpnGw4AZ", "VpnGw5AZ"]

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


def smallest_sku_for(concurrent_users: int) -> str | None:
    """The smallest zone-redundant SKU that carries ``concurrent_users`` P2S connections, or None."""
    for sku, limit in sorted(P2S_CONNECTION_LIMIT.items(), key=lambda item: item[1]):
        if limit >= concurrent_users:
            return sku
    return None
