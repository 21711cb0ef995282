"""Azure resource names derived from the stack's name prefix, free of Pulumi.

Names follow the Cloud Adoption Framework abbreviations (``vnet-``, ``vgw-``, ``vdpool-`` ...). Storage accounts
and key vaults have tighter global rules (lowercase letters and digits, 3-24 characters), handled here once.
"""

from __future__ import annotations

import hashlib
import re

_NON_ALNUM = re.compile(r"[^a-z0-9]")


def resource_name(kind: str, prefix: str, suffix: str = "") -> str:
    """``kind-prefix[-suffix]``, e.g. ``resource_name("vnet", "fw-uks")`` -> ``vnet-fw-uks``."""
    parts = [kind, prefix] + ([suffix] if suffix else [])
    return "-".join(parts)


def compact_name(kind: str, prefix: str, *, max_length: int = 24) -> str:
    """A globally unique-ish name for services that allow only lowercase letters and digits.

    A short hash of the full prefix keeps two long prefixes that truncate alike from colliding.
    """
    digest = hashlib.sha256(f"{kind}:{prefix}".encode()).hexdigest()[:4]
    body = _NON_ALNUM.sub("", f"{kind}{prefix}".lower())
    return (body[: max_length - len(digest)] + digest)[:max_length]


def session_host_name(prefix: str, index: int) -> str:
    """Windows computer names are at most 15 characters: keep the prefix short and number the hosts."""
    base = _NON_ALNUM.sub("", prefix.lower())[:10]
    return f"{base}-{index:03d}"[:15]
