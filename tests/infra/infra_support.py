"""Helpers for the infra tests: the example stack and program runs under mocks."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from infra import program
from infra.offline import OfflineRun, run_offline

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "Pulumi.example.yaml"
# Any instant works: the token expiry is computed from it. The full example runs years ahead (FAR_FUTURE)
# to prove it plans on any date.
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
FAR_FUTURE = datetime(2034, 2, 28, 23, 59, 30, tzinfo=UTC)
GOOD_KEY = "k" * 40


def example_raw() -> dict[str, Any]:
    """The example stack's ``fleetward:*`` keys without namespace, as plain values."""
    config = yaml.safe_load(EXAMPLE.read_text())["config"]
    return {key.split(":", 1)[1]: value for key, value in config.items() if key.startswith("fleetward:")}


def good_secrets(raw: dict[str, Any]) -> dict[str, Any]:
    sites = [site["name"] for site in raw["vpn"].get("practiceSites", [])]
    return {
        "sessionHostAdminPassword": "x" * 20,
        "collectorEnrollSecret": "y" * 40,
        "collectorAdminToken": "z" * 40,
        "siteSharedKeys": dict.fromkeys(sites, GOOD_KEY),
    }


def run_with(raw: dict[str, Any], now: datetime = NOW) -> OfflineRun:
    """Run the whole program under mocks with ``raw`` config plus valid secrets."""
    import json

    values = raw | good_secrets(raw)
    config = {f"fleetward:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}
    secret_keys = [f"fleetward:{k}" for k in good_secrets(raw)]
    return run_offline(lambda: program.run(now=now), config, secret_keys=secret_keys)


SMALL_HOSTS = 3


def small_raw() -> dict[str, Any]:
    """The example with three session hosts (one per zone, 12 sessions): same shape, fewer resources."""
    raw = copy.deepcopy(example_raw())
    raw["sessionHosts"]["count"] = SMALL_HOSTS
    raw["desktop"]["expectedConcurrentUsers"] = 12
    return raw


def small_stack_file(directory: Path, **changes: object) -> Path:
    """The example stack file with three hosts, written to ``directory``; ``changes`` override keys."""
    document = yaml.safe_load(EXAMPLE.read_text())
    document["config"]["fleetward:sessionHosts"]["count"] = SMALL_HOSTS
    document["config"]["fleetward:desktop"]["expectedConcurrentUsers"] = 12
    document["config"].update(changes)
    path = directory / "Pulumi.test.yaml"
    path.write_text(yaml.safe_dump(document))
    return path
