"""Baseline freshness: whether the floor that should be in force at an instant is in the file.

A baseline that stops being updated does not stop working: its last floor stays in force, and a
laptop still on that month's build keeps passing months later. So each baseline declares when its
next floor is due, and a missing one turns the policies that read the baseline into `error`:

- `patch-tuesday` (Windows): Microsoft's B-week cumulative update ships on the second Tuesday of
  every month. At instant T the floor of the newest Patch Tuesday at least the remediation window
  (14 days) before T must be present for every release still serviced at T. Between a Patch
  Tuesday and the day its floor takes effect the baseline is `due`: a warning, still a verdict.
- `max-age` (macOS, Ubuntu): Apple and Canonical publish no calendar, so the baseline may be at
  most `max_age_days` old (counted from `refreshed`, the date of the data it was refreshed from);
  it is `due` during the last `warn_days` of that age and `stale` after it.

Pure: the instant is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:
    from fleetward.policy.baseline import Baseline, Release

REFRESH_HINT = (
    "refresh it with `fleetward policies baselines refresh --feeds DIR` (docs/policies.md, "
    "'Monthly baseline update'), then publish the signed bundle"
)


class Schedule(StrEnum):
    PATCH_TUESDAY = "patch-tuesday"
    MAX_AGE = "max-age"


class Freshness(BaseModel):
    """When a baseline's next floor is due."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schedule: Schedule
    max_age_days: Annotated[int | None, Field(ge=1, le=400)] = None
    warn_days: Annotated[int, Field(ge=0, le=90)] = 14

    @model_validator(mode="after")
    def _age_for_max_age(self) -> Freshness:
        if self.schedule is Schedule.MAX_AGE and self.max_age_days is None:
            raise ValueError("schedule 'max-age' needs max_age_days")
        if self.schedule is Schedule.PATCH_TUESDAY and self.max_age_days is not None:
            raise ValueError("schedule 'patch-tuesday' has a fixed calendar: remove max_age_days")
        return self


class FreshnessState(StrEnum):
    FRESH = "fresh"
    DUE = "due"  # the next floor is published or nearly due: warn, verdicts still stand
    STALE = "stale"  # a floor that should be in force is missing: verdicts are errors
    UNTRACKED = "untracked"  # the baseline declares no schedule


@dataclass(frozen=True)
class FreshnessVerdict:
    baseline: str
    state: FreshnessState
    due: date | None  # the Patch Tuesday whose floor is needed, or the day max age runs out
    lacking: tuple[str, ...]  # releases without that floor (patch-tuesday only)
    message: str

    @property
    def stale(self) -> bool:
        return self.state is FreshnessState.STALE


def second_tuesday(year: int, month: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(1 - first.weekday()) % 7 + 7)


def patch_tuesdays_before(at: date) -> tuple[date, date]:
    """The newest Patch Tuesday on or before `at`, and the one after it."""
    this = second_tuesday(at.year, at.month)
    if this > at:
        year, month = (at.year - 1, 12) if at.month == 1 else (at.year, at.month - 1)
        return second_tuesday(year, month), this
    year, month = (at.year + 1, 1) if at.month == 12 else (at.year, at.month + 1)
    return this, second_tuesday(year, month)


def assess(baseline: Baseline, at: datetime, window: timedelta) -> FreshnessVerdict:
    """Whether `baseline` holds every floor that should be in force at `at`."""
    if baseline.freshness is None:
        return FreshnessVerdict(baseline.name, FreshnessState.UNTRACKED, None, (), "no freshness schedule")
    at = at.astimezone(UTC)
    if baseline.freshness.schedule is Schedule.PATCH_TUESDAY:
        return _patch_tuesday(baseline, at, window)
    return _max_age(baseline, at, baseline.freshness)


def _patch_tuesday(baseline: Baseline, at: datetime, window: timedelta) -> FreshnessVerdict:
    in_force_day = (at - window).date()
    required, upcoming = patch_tuesdays_before(in_force_day)
    lacking = _lacking(baseline, at.date(), required)
    if lacking:
        message = (
            f"baseline {baseline.name!r} is stale: it has no floor for the {required} Patch Tuesday "
            f"(B-week) update of release(s) {', '.join(lacking)}, in force from {required + window}; "
            f"{REFRESH_HINT}"
        )
        return FreshnessVerdict(baseline.name, FreshnessState.STALE, required, lacking, message)
    if upcoming <= at.date():
        lacking = _lacking(baseline, at.date(), upcoming)
        if lacking:
            message = (
                f"baseline {baseline.name!r} is due: the {upcoming} Patch Tuesday floor of release(s) "
                f"{', '.join(lacking)} takes effect on {upcoming + window} and is not in the file; "
                f"{REFRESH_HINT}"
            )
            return FreshnessVerdict(baseline.name, FreshnessState.DUE, upcoming, lacking, message)
    return FreshnessVerdict(
        baseline.name, FreshnessState.FRESH, required, (), f"holds the {required} Patch Tuesday floor"
    )


def _lacking(baseline: Baseline, today: date, patch_tuesday: date) -> tuple[str, ...]:
    """Releases serviced on `today`, already shipping by `patch_tuesday`, without its floor."""
    return tuple(
        r.release
        for r in baseline.releases
        if r.floors
        and min(f.released for f in r.floors) <= patch_tuesday
        and _serviced(r, today)
        and not any(f.released >= patch_tuesday for f in r.floors)
    )


def _serviced(release: Release, today: date) -> bool:
    from fleetward.policy.baseline import last_supported_day

    ends = list(release.end_of_servicing.values())
    if any(end is None or today <= last_supported_day(end) for end in ends):
        return True
    extended = release.extended_support
    return extended is not None and today <= last_supported_day(extended.until)


def _max_age(baseline: Baseline, at: datetime, freshness: Freshness) -> FreshnessVerdict:
    assert freshness.max_age_days is not None  # the model validator guarantees it
    stale_from = baseline.refreshed + timedelta(days=freshness.max_age_days)
    today = at.date()
    releases = tuple(r.release for r in baseline.releases if r.floors and _serviced(r, today))
    if today >= stale_from:
        message = (
            f"baseline {baseline.name!r} is stale: refreshed from data of {baseline.refreshed}, it may be "
            f"at most {freshness.max_age_days} days old (until {stale_from}), so security releases "
            f"published since {baseline.refreshed} may be missing; {REFRESH_HINT}"
        )
        return FreshnessVerdict(baseline.name, FreshnessState.STALE, stale_from, releases, message)
    if today >= stale_from - timedelta(days=freshness.warn_days):
        message = (
            f"baseline {baseline.name!r} is due: refreshed from data of {baseline.refreshed}, it goes "
            f"stale on {stale_from}; {REFRESH_HINT}"
        )
        return FreshnessVerdict(baseline.name, FreshnessState.DUE, stale_from, (), message)
    return FreshnessVerdict(baseline.name, FreshnessState.FRESH, stale_from, (), f"fresh until {stale_from}")


@dataclass(frozen=True)
class Provenance:
    """Where a baseline's numbers come from and whether they still cover `at`: shown everywhere a
    verdict that depends on them is shown (agent, collector API, reports, dashboard)."""

    baseline: str
    title: str
    refreshed: date
    newest_floor: date | None
    sources: tuple[tuple[str, str], ...]
    freshness: FreshnessVerdict

    def as_dict(self) -> dict[str, object]:
        return {
            "baseline": self.baseline,
            "title": self.title,
            "refreshed": self.refreshed.isoformat(),
            "newest_floor": self.newest_floor.isoformat() if self.newest_floor else None,
            "sources": dict(self.sources),
            "state": self.freshness.state.value,
            "due": self.freshness.due.isoformat() if self.freshness.due else None,
            "lacking": list(self.freshness.lacking),
            "message": self.freshness.message,
        }


def provenance(baseline: Baseline, at: datetime, window: timedelta) -> Provenance:
    newest = max((f.released for r in baseline.releases for f in r.floors), default=None)
    return Provenance(
        baseline=baseline.name,
        title=baseline.title,
        refreshed=baseline.refreshed,
        newest_floor=newest,
        sources=tuple(sorted(baseline.sources.items())),
        freshness=assess(baseline, at, window),
    )
