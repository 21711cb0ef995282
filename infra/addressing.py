"""Address arithmetic for the estate, free of Pulumi so it is tested with plain values.

Every range the estate uses (VNet, its subnets, the VPN client pool, practice sites) must be private and must
not overlap another one: a clash makes traffic to a practice or a remote user silently go to the wrong place.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

Network = ipaddress.IPv4Network

# RFC 1918 only: the public "is_private" of ipaddress also accepts documentation and loopback ranges.
RFC1918: tuple[Network, ...] = (
    ipaddress.IPv4Network("10.0.0.0/8"),
    ipaddress.IPv4Network("172.16.0.0/12"),
    ipaddress.IPv4Network("192.168.0.0/16"),
)

# Azure keeps five addresses in every subnet (network, gateway, two DNS, broadcast).
AZURE_RESERVED_PER_SUBNET = 5


@dataclass(frozen=True)
class NamedRange:
    """An address range with the config key it came from, so clashes can name both keys."""

    key: str
    network: Network


def parse_network(text: str) -> Network:
    """Parse an IPv4 CIDR strictly: host bits must be zero (``10.0.0.1/24`` is a typo, not a network)."""
    return ipaddress.IPv4Network(text, strict=True)


def is_rfc1918(network: Network) -> bool:
    """True when the whole network lies inside one RFC 1918 private block."""
    return any(network.subnet_of(block) for block in RFC1918)


def overlapping_pairs(ranges: Sequence[NamedRange]) -> list[tuple[NamedRange, NamedRange]]:
    """Every pair of ranges that share at least one address, in input order."""
    pairs: list[tuple[NamedRange, NamedRange]] = []
    for index, first in enumerate(ranges):
        for second in ranges[index + 1 :]:
            if first.network.overlaps(second.network):
                pairs.append((first, second))
    return pairs


def outside(container: Iterable[Network], network: Network) -> bool:
    """True when ``network`` is not wholly inside any of ``container``."""
    return not any(network.subnet_of(block) for block in container)


def usable_hosts(network: Network) -> int:
    """Addresses Azure lets VMs use in a subnet of this size."""
    return max(network.num_addresses - AZURE_RESERVED_PER_SUBNET, 0)


def first_usable_address(text: str) -> str:
    """The first address Azure hands out in a subnet (the first four are reserved), e.g. for a static IP."""
    network = parse_network(text)
    return str(network.network_address + AZURE_RESERVED_PER_SUBNET - 1)
