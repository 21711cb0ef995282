"""Catalogues for tests that pin query semantics rather than baseline freshness.

The shipped recorded devices were captured on 15 Nov 2026, after the newest floor the stored feeds
hold (Windows: June 2026), so on the shipped catalogue their patch-floor verdicts are `error`
(stale baseline; tests/policy/test_policy_freshness.py proves it). Tests of what a query says
about a device use this copy, whose baselines declare no freshness schedule: the newest floor
stays in force, exactly as the catalogue behaved before freshness was part of the verdict.
"""

from __future__ import annotations

from fleetward.policy.catalogue import Catalogue, load_catalogue


def without_freshness(catalogue: Catalogue | None = None) -> Catalogue:
    source = catalogue or load_catalogue()
    baselines = {name: b.model_copy(update={"freshness": None}) for name, b in source.baselines.items()}
    return Catalogue(
        policies=source.policies,
        baselines=baselines,
        frameworks=dict(source.frameworks),
        digest=source.digest + "-without-freshness",
        root=source.root,
    )
