"""What a simulation starts from: the shipped recorded devices and the Windows patch releases in
the catalogue's baseline (the same floors the patch policies enforce)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fleetward.policy.catalogue import Catalogue
from fleetward.recorded.model import RecordedDevice, load_devices
from simulator.plan import PatchRelease, SimulationPlan, make_plan


def load_templates() -> dict[str, RecordedDevice]:
    return {device.name: device for device in load_devices()}


def patch_releases(catalogue: Catalogue) -> tuple[PatchRelease, ...]:
    baseline = catalogue.baselines.get("windows")
    if baseline is None:
        return ()
    releases = []
    for release in baseline.releases:
        for floor in release.floors:
            build, _, revision = floor.floor.partition(".")
            releases.append(PatchRelease(build=build, revision=revision, released=floor.released))
    return tuple(sorted(releases, key=lambda r: (r.build, r.released)))


@dataclass(frozen=True)
class Setup:
    """The shipped catalogue, recorded devices and a plan over them: what every simulation runs."""

    catalogue: Catalogue
    templates: dict[str, RecordedDevice]
    plan: SimulationPlan


def shipped_setup(*, devices: int, days: int, seed: int, start: datetime) -> Setup:
    from fleetward.policy.catalogue import load_catalogue

    catalogue = load_catalogue()
    templates = load_templates()
    plan = make_plan(
        templates=templates,
        releases=patch_releases(catalogue),
        devices=devices,
        days=days,
        seed=seed,
        start=start,
    )
    return Setup(catalogue, templates, plan)
