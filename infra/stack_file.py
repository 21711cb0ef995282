"""Read a ``Pulumi.<stack>.yaml`` file into the strings the engine would pass the program, without the CLI.

Secret values (``secure:`` ciphertext, or keys absent because they are set with ``pulumi config set --secret``)
are replaced by ``STAND_IN_SECRET``: an offline plan must run, but it can never decrypt anything.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from infra.config import NAMESPACE, SECRET_KEYS
from infra.offline import STAND_IN_SECRET


@dataclass(frozen=True)
class StackFile:
    config: dict[str, str]
    secret_keys: list[str]
    stand_ins: list[str]


def _strip_secure(value: Any) -> tuple[Any, bool]:
    if isinstance(value, Mapping):
        if set(value) == {"secure"}:
            return STAND_IN_SECRET, True
        pairs = {k: _strip_secure(v) for k, v in value.items()}
        return {k: v for k, (v, _) in pairs.items()}, any(s for _, s in pairs.values())
    if isinstance(value, list):
        items = [_strip_secure(v) for v in value]
        return [v for v, _ in items], any(s for _, s in items)
    return value, False


def _engine_string(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def read_stack_file(path: Path) -> StackFile:
    """Config strings keyed ``namespace:key``, with stand-ins for every secret key of the project."""
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    raw = document.get("config") or {}
    config: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, value in raw.items():
        full_key = key if ":" in key else f"{NAMESPACE}:{key}"
        plain, secret = _strip_secure(value)
        config[full_key] = _engine_string(plain)
        if secret:
            secret_keys.append(full_key)
    stand_ins: list[str] = []
    sites = _site_names(raw.get(f"{NAMESPACE}:vpn"))
    for name in SECRET_KEYS:
        full_key = f"{NAMESPACE}:{name}"
        if full_key in config:
            continue
        stand_in: Any = dict.fromkeys(sites, STAND_IN_SECRET) if name == "siteSharedKeys" else STAND_IN_SECRET
        config[full_key] = _engine_string(stand_in)
        secret_keys.append(full_key)
        stand_ins.append(full_key)
    return StackFile(config=config, secret_keys=sorted(set(secret_keys)), stand_ins=stand_ins)


def _site_names(vpn: Any) -> list[str]:
    if not isinstance(vpn, Mapping):
        return []
    sites = vpn.get("practiceSites") or []
    return [str(site["name"]) for site in sites if isinstance(site, Mapping) and "name" in site]
