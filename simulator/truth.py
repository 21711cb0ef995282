"""The simulator's own account of the fleet at the end: what every report must agree with.

Derived from what the simulated agents evaluated and when, independently of the collector's
status runs: a device silent for longer than the validity period is stale on the policies for
its platform (and stays not_applicable on the others); a failing result
under a waiver the simulator granted is waived; a failure younger than the policy's grace is
in grace (the precedence of `fleetward.status`).
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from fleetward.policy.catalogue import Catalogue
from fleetward.status import AuditStatus

if TYPE_CHECKING:
    from simulator.runner import FleetSimulation

VALIDITY = timedelta(days=30)
_NOT_COMPLIANT = (AuditStatus.FAIL, AuditStatus.ERROR)


def expected_statuses(
    simulation: FleetSimulation, catalogue: Catalogue, at: datetime
) -> dict[tuple[str, str], AuditStatus]:
    """(hostname, policy id) -> the status an auditor should see at `at`."""
    expected: dict[tuple[str, str], AuditStatus] = {}
    for device in simulation.plan.devices:
        truth = simulation.truth[device.index]
        if truth.last_reported is None:
            continue  # never enrolled: not part of the fleet
        stale = at - truth.last_reported > VALIDITY
        platform = simulation.platform_of(device)
        for policy_id, result in truth.results.items():
            status = AuditStatus(result.status.value)
            if stale:
                applies = catalogue.policy(policy_id).applies_to(platform)
                status = AuditStatus.STALE if applies else AuditStatus.NOT_APPLICABLE
            elif status in _NOT_COMPLIANT:
                if simulation.waived(device, policy_id, at):
                    status = AuditStatus.WAIVED
                elif status is AuditStatus.FAIL:
                    since = truth.failing_since.get(policy_id)
                    grace = catalogue.policy(policy_id).grace
                    if since is not None and at - since < grace:
                        status = AuditStatus.IN_GRACE
            expected[(device.hostname, policy_id)] = status
    return expected


def write_truth(path: Path, simulation: FleetSimulation, catalogue: Catalogue) -> Path:
    at = simulation.plan.end
    expected = expected_statuses(simulation, catalogue, at)
    document = {
        "at": at.isoformat(),
        "seed": simulation.plan.seed,
        "devices": len({host for host, _ in expected}),
        "counts": dict(sorted(Counter(expected.values()).items())),
        "pairs": [{"hostname": h, "policy_id": p, "status": s} for (h, p), s in sorted(expected.items())],
    }
    path.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n", "utf-8")
    return path
