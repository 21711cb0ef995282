"""Patch baselines: per OS release, the monthly patch floors and the end-of-servicing dates.

A baseline file (policies/baselines/<name>.yaml) lists releases. Each release has its
end-of-servicing date (per edition where they differ), optional extended support (Windows 10 ESU,
Ubuntu Pro ESM) and floors: the minimum patch level set by each security release, with its date.

At instant T the floor in force is the newest one released at or before T minus the remediation
window (14 days: Cyber Essentials' limit for high and critical fixes). `render_query` hands those
values to the policy's SQL as a `baseline` table in a CTE, rendered by code (see sqltext).
`stale_baseline` says when the floor that should be in force is missing (see freshness).

Windows 11 Enterprise hotpatch: in a hotpatch month a hotpatched device runs the month's hotpatch
build, whose revision is below the B-week cumulative update (26100.8390 vs .8457 in May 2026) and
above every earlier client build. A floor records both; the `floor` column a policy compares with
is the lower of the two, which passes a hotpatched device and fails every device without the
month's fixes, because only hotpatch builds have revisions between the two (a test checks this
against the feed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from fleetward.errors import PolicyError
from fleetward.policy.freshness import Freshness, FreshnessVerdict, Provenance, assess, provenance
from fleetward.policy.model import Platform, Policy, content_digest
from fleetward.policy.sqltext import SqlValue, values_cte, with_cte

if TYPE_CHECKING:
    from fleetward.policy.catalogue import Catalogue

REMEDIATION_WINDOW = timedelta(days=14)
ANY_EDITION = "*"
BASELINE_COLUMNS = (
    "release",
    "edition",
    "in_support",
    "extended_support",
    "end_of_servicing",
    "floor",
    "floor_released",
    "extended_floor",
)
_LIFECYCLE_DATE = re.compile(r"^\d{4}-\d{2}(-\d{2})?$")


def _date_text(value: object) -> object:
    return value.isoformat() if isinstance(value, date) else value


def last_supported_day(value: str) -> date:
    """The last day of support. Month precision ('2027-04') is read conservatively: support ends
    before that month starts, because vendors that give only a month may mean its first day."""
    parts = [int(p) for p in value.split("-")]
    if len(parts) == 3:
        return date(parts[0], parts[1], parts[2])
    return date(parts[0], parts[1], 1) - timedelta(days=1)


def _lifecycle(value: object) -> object:
    value = _date_text(value)
    if not isinstance(value, str) or not _LIFECYCLE_DATE.match(value):
        raise ValueError(
            f"{value!r} is not a date: write YYYY-MM-DD, or YYYY-MM when only the month is known"
        )
    try:
        last_supported_day(value)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a calendar date: {exc}") from exc
    return value


EndDate = Annotated[str, BeforeValidator(_lifecycle)]


class Floor(BaseModel):
    """The patch level a security release brought, and when it was published."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    floor: Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[0-9A-Za-z][0-9A-Za-z.\-]*$")]
    released: date
    reference: Annotated[str, Field(max_length=200)] = ""
    source: Annotated[str, Field(min_length=1, max_length=40)]
    hotpatch: Annotated[str | None, Field(max_length=40, pattern=r"^[0-9A-Za-z][0-9A-Za-z.\-]*$")] = Field(
        default=None, description="Windows 11 Enterprise hotpatch build of the same month"
    )

    @property
    def lowest_patched(self) -> str:
        """The lowest build that has this month's fixes: the hotpatch build when there is one."""
        return self.hotpatch or self.floor


class ExtendedSupport(BaseModel):
    """Paid security updates after end of servicing (Windows 10 ESU, Ubuntu Pro ESM)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(min_length=2, max_length=60)]
    until: EndDate
    note: str = ""


def _unannounced() -> dict[str, str | None]:
    return {ANY_EDITION: None}


class Release(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    release: Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[0-9A-Za-z][0-9A-Za-z.\-]*$")]
    name: Annotated[str, Field(min_length=2, max_length=120)]
    released: date | None = None
    end_of_servicing: dict[str, EndDate | None] = Field(
        default_factory=_unannounced,
        description="edition -> last day of servicing; '*' for every edition; null when not announced",
    )
    extended_support: ExtendedSupport | None = None
    floors: tuple[Floor, ...] = ()
    notes: str = ""

    @field_validator("end_of_servicing", mode="before")
    @classmethod
    def _editions(cls, value: object) -> object:
        if value is None:
            return {ANY_EDITION: None}
        if isinstance(value, dict) and ANY_EDITION in value and len(value) > 1:
            raise ValueError("use either '*' or per-edition dates, not both")
        return value


class Baseline(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(pattern=r"^[a-z0-9]+(?:[-.][a-z0-9]+)*$")]
    title: Annotated[str, Field(min_length=3)]
    platform: Platform
    release_key: Annotated[str, Field(min_length=3)] = Field(
        description="How a policy derives the release from osquery (documentation for authors)"
    )
    editions: tuple[str, ...] = (ANY_EDITION,)
    refreshed: date = Field(description="The date of the release data the floors were last refreshed from")
    freshness: Freshness | None = Field(
        default=None, description="When the next floor is due; without it staleness is not detected"
    )
    sources: dict[str, str]
    releases: Annotated[tuple[Release, ...], Field(min_length=1)]
    notes: str = ""

    @property
    def digest(self) -> str:
        return content_digest(self.model_dump(mode="json"))

    def release(self, key: str) -> Release | None:
        return next((r for r in self.releases if r.release == key), None)


@dataclass(frozen=True)
class BaselineRow:
    """One row of the `baseline` table a policy's SQL sees."""

    release: str
    edition: str
    in_support: int
    extended_support: int
    end_of_servicing: str | None
    floor: str | None
    floor_released: str | None
    extended_floor: str | None

    def values(self) -> tuple[SqlValue, ...]:
        return (
            self.release,
            self.edition,
            self.in_support,
            self.extended_support,
            self.end_of_servicing,
            self.floor,
            self.floor_released,
            self.extended_floor,
        )


def floor_in_force(release: Release, at: datetime, window: timedelta = REMEDIATION_WINDOW) -> Floor | None:
    """The newest floor released at or before `at - window`; None when none is old enough."""
    cutoff = _as_utc(at) - window
    eligible = [f for f in release.floors if _start_of(f.released) <= cutoff]
    return max(eligible, key=lambda f: f.released) if eligible else None


def floors_in_force(
    baseline: Baseline, at: datetime, window: timedelta = REMEDIATION_WINDOW
) -> list[BaselineRow]:
    """Every release x edition with its support state and the floor in force at `at`."""
    today = _as_utc(at).date()
    rows: list[BaselineRow] = []
    for release in baseline.releases:
        floor = floor_in_force(release, at, window)
        extended = release.extended_support
        for edition, end in sorted(release.end_of_servicing.items()):
            in_support = end is None or today <= last_supported_day(end)
            in_extended = (
                not in_support and extended is not None and today <= last_supported_day(extended.until)
            )
            rows.append(
                BaselineRow(
                    release=release.release,
                    edition=edition,
                    in_support=int(in_support),
                    extended_support=int(in_extended),
                    end_of_servicing=end,
                    floor=floor.lowest_patched if floor else None,
                    floor_released=floor.released.isoformat() if floor else None,
                    extended_floor=_first_floor_after(release, end) if extended and end else None,
                )
            )
    return rows


def _first_floor_after(release: Release, end: str) -> str | None:
    """The first floor published after end of servicing: only a device enrolled in ESU/ESM can have it."""
    later = [f for f in release.floors if f.released > last_supported_day(end)]
    return min(later, key=lambda f: f.released).floor if later else None


def baseline_cte(rows: list[BaselineRow]) -> str:
    return values_cte("baseline", BASELINE_COLUMNS, [r.values() for r in rows])


def render_query(
    policy: Policy, catalogue: Catalogue, at: datetime, window: timedelta = REMEDIATION_WINDOW
) -> str:
    """The SQL sent to osquery: the policy's query, with the baseline in force at `at` in front."""
    if policy.baseline is None:
        return policy.query
    baseline = catalogue.baselines.get(policy.baseline)
    if baseline is None:
        raise PolicyError(
            f"policy {policy.id!r} names baseline {policy.baseline!r}, which is not in the catalogue "
            f"(expected policies/baselines/{policy.baseline}.yaml)"
        )
    return with_cte(baseline_cte(floors_in_force(baseline, at, window)), policy.query)


def stale_baseline(
    policy: Policy, catalogue: Catalogue, at: datetime, window: timedelta = REMEDIATION_WINDOW
) -> FreshnessVerdict | None:
    """The freshness verdict when the policy's baseline lacks a floor that should be in force."""
    baseline = catalogue.baselines.get(policy.baseline) if policy.baseline else None
    if baseline is None:
        return None
    verdict = assess(baseline, _as_utc(at), window)
    return verdict if verdict.stale else None


def catalogue_provenance(
    catalogue: Catalogue, at: datetime, window: timedelta = REMEDIATION_WINDOW
) -> list[Provenance]:
    """Each baseline's provenance and freshness at `at`, by name."""
    return [provenance(b, _as_utc(at), window) for _, b in sorted(catalogue.baselines.items())]


def newest_floor_date(baseline: Baseline) -> date | None:
    dates = [f.released for r in baseline.releases for f in r.floors]
    return max(dates) if dates else None


def staleness(baseline: Baseline, at: datetime) -> timedelta | None:
    """How long since a baseline with monthly floors was last refreshed; None when it has no floors."""
    if newest_floor_date(baseline) is None:
        return None
    return _as_utc(at) - _start_of(baseline.refreshed)


def _start_of(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _as_utc(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError(f"{at.isoformat()} has no time zone; baselines are evaluated at aware instants")
    return at.astimezone(UTC)
