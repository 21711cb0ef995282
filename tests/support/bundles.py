"""Policy bundles for tests: a copy of the shipped catalogue, optionally with a new baseline month,
built and signed with throwaway keys exactly as `fleetward policies bundle build|sign` does."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

from fleetward.bundle.document import Bundle
from fleetward.bundle.files import bundle_directory
from fleetward.bundle.keys import SigningKey
from fleetward.policy.catalogue import default_policies_dir

CREATED = datetime(2026, 11, 14, 12, 0, tzinfo=UTC)
# A Patch Tuesday floor above the recorded Windows 11 25H2 laptops (26200.8655): in force from
# 27 Oct 2026, so those laptops fail `patch-windows-build-current` on 15 Nov 2026.
NOVEMBER_FLOOR = '      - {floor: "26200.8900", released: 2026-10-13, reference: KB5099999, source: MSB}\n'
WINDOWS_PATCH = "patch-windows-build-current"


def catalogue_copy(target: Path) -> Path:
    """The shipped catalogue without freshness schedules, so a bundle test on the recorded laptops
    (15 Nov 2026, after the feeds' newest Windows floor) is about bundles, not a stale baseline."""
    shutil.copytree(default_policies_dir(), target)
    for path in (target / "baselines").glob("*.yaml"):
        path.write_text(_without_freshness(path.read_text("utf-8")), "utf-8")
    return target


def _without_freshness(text: str) -> str:
    kept, skipping = [], False
    for line in text.splitlines(keepends=True):
        if line.startswith("freshness:"):
            skipping = True
            continue
        if skipping and (line.startswith(" ") or not line.strip()):
            continue
        skipping = False
        kept.append(line)
    return "".join(kept)


def add_november_floor(catalogue: Path) -> None:
    """Add the month after the last 25H2 floor, as the platform team does after Patch Tuesday."""
    path = catalogue / "baselines" / "windows.yaml"
    text = path.read_text("utf-8")
    last = '      - {floor: "26200.8655", released: 2026-06-09, reference: KB5094126, source: MSB}\n'
    if last not in text:
        last = last.replace("source: MSB", "source: MSL")
    assert last in text, "the shipped windows baseline changed; update tests/support/bundles.py"
    path.write_text(
        text.replace(last, last + NOVEMBER_FLOOR).replace("refreshed: 2026-06-09", "refreshed: 2026-11-14")
    )


def signed_bundle(catalogue: Path, version: int, *keys: SigningKey, created_at: datetime = CREATED) -> Bundle:
    bundle = bundle_directory(catalogue, version=version, created_at=created_at)
    for key in keys:
        bundle = bundle.signed_by(key)
    return bundle
