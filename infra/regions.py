"""Azure regions this project knows, and whether they have availability zones.

Kept as data so a reviewer can check it against Microsoft's list. UK South has zones; UK West does not
(MicrosoftDocs/azure-docs #30407; ALZ-Bicep #981 ``LocationNotSupportAvailabilityZones`` for a VPN public IP in
ukwest). NHS data-location policy pins estates to the UK, so only UK regions are listed by default.
"""

from __future__ import annotations

ZONAL_REGIONS: frozenset[str] = frozenset({"uksouth"})
NON_ZONAL_REGIONS: frozenset[str] = frozenset({"ukwest"})
KNOWN_REGIONS: frozenset[str] = ZONAL_REGIONS | NON_ZONAL_REGIONS

# Windows time-zone id used by the AVD scaling plan in both UK regions (LZA variables/locations.json).
UK_TIME_ZONE = "GMT Standard Time"

ZONES: tuple[str, ...] = ("1", "2", "3")


def has_availability_zones(region: str) -> bool:
    """True when the region offers availability zones (so zonal SKUs and zonal public IPs are allowed)."""
    return region in ZONAL_REGIONS
