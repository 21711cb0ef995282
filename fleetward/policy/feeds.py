"""Read published OS release data (the DataForGeeks datasets) into candidate patch floors.

Files, as altrhombus/DataForGeeks publishes them (content/...; stored copies in
/work/shared/feeds/dataforgeeks and a subset in tests/data/feeds):

- `ms-mswin-buildnumbers.json`: every Windows cumulative update. Only the B-week update (released on
  the second Tuesday, `Comment` empty) is a monthly security floor; `Preview` (D-week, optional) and
  `Out-of-band` rows are not. `Hotpatch` rows on a Patch Tuesday are the Windows 11 Enterprise
  hotpatch build of that month. The feed also lists a second, much higher revision for 26100 on the
  same day (26100.32230 beside the client's 26100.7623, Jan 2026: the Server 2025 line), so the
  client's cumulative update is the lowest B-week revision of a build on that day.
- `apple-macos-releases.json`: macOS versions and release dates. The feed does not mark which
  updates carry security content, so every update is a floor (the stricter reading).
- `linux-ubuntu-releases.json`: Ubuntu series; only LTS series are baseline releases.

Each file carries its own last-updated stamp, which becomes the baseline's `refreshed` date.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from fleetward.errors import FeedError
from fleetward.policy.freshness import second_tuesday

WINDOWS_BUILDS = "ms-mswin-buildnumbers.json"
MACOS_RELEASES = "apple-macos-releases.json"
UBUNTU_RELEASES = "linux-ubuntu-releases.json"
REPOSITORY = "altrhombus/DataForGeeks"
_REPOSITORY_PATHS = {
    WINDOWS_BUILDS: "content/ms/mswin/buildnumbers.json",
    MACOS_RELEASES: "content/apple/macos/releases.json",
    UBUNTU_RELEASES: "content/linux/ubuntu/releases.json",
}


@dataclass(frozen=True)
class FeedInfo:
    file: str
    updated: datetime
    source_urls: tuple[str, ...]

    @property
    def source_key(self) -> str:
        """The `sources:` key floors from this copy of the file cite, e.g. DFG-WIN-2026-06-23."""
        tag = {WINDOWS_BUILDS: "WIN", MACOS_RELEASES: "MAC", UBUNTU_RELEASES: "UBU"}[self.file]
        return f"DFG-{tag}-{self.updated.date().isoformat()}"

    @property
    def source_text(self) -> str:
        return (
            f"repo {REPOSITORY}, {_REPOSITORY_PATHS[self.file]} (last updated "
            f"{self.updated.strftime('%Y-%m-%dT%H:%M:%SZ')}), scraped from {', '.join(self.source_urls)}; "
            "added by `fleetward policies baselines refresh`"
        )


@dataclass(frozen=True)
class FeedFloor:
    release: str
    floor: str
    released: date
    reference: str = ""
    hotpatch: str | None = None


@dataclass(frozen=True)
class FeedRelease:
    release: str
    name: str
    released: date
    standard_support_end: date | None
    esm_support_end: date | None


def read_windows(directory: Path) -> tuple[FeedInfo, list[FeedFloor]]:
    path = directory / WINDOWS_BUILDS
    document = _load(path)
    meta = _field(document, "DataForGeeks", path)
    info = FeedInfo(WINDOWS_BUILDS, _stamp(meta, "LastUpdatedUTC", path), _urls(meta, "SourceList"))
    cumulative: dict[tuple[str, date], tuple[int, str, str]] = {}
    hotpatches: dict[tuple[str, date], int] = {}
    for index, row in enumerate(_rows(document, "Data", path)):
        try:
            build, revision = str(row["Version"]).split(".")
            released = date.fromisoformat(str(row["ReleaseDate"]))
            comment = str(row.get("Comment") or "").strip()
            ubr = int(revision)
        except (KeyError, ValueError) as exc:
            raise FeedError(
                f"{path}: Data[{index}] is not a build row ({exc}); is this the right file?"
            ) from exc
        if row.get("LTSCOnly") or released != second_tuesday(released.year, released.month):
            continue
        key = (build, released)
        if comment == "":
            known = cumulative.get(key)
            if known is None or ubr < known[0]:
                cumulative[key] = (ubr, str(row.get("Article") or ""), build)
        elif comment.lower() == "hotpatch":
            hotpatches[key] = min(ubr, hotpatches.get(key, ubr))
    floors = []
    for (build, released), (ubr, article, _) in sorted(cumulative.items()):
        hot = hotpatches.get((build, released))
        floors.append(
            FeedFloor(
                release=build,
                floor=f"{build}.{ubr}",
                released=released,
                reference=article,
                hotpatch=f"{build}.{hot}" if hot is not None and hot < ubr else None,
            )
        )
    return info, floors


def read_macos(directory: Path) -> tuple[FeedInfo, list[FeedFloor]]:
    path = directory / MACOS_RELEASES
    document = _load(path)
    meta = _field(document, "metadata", path)
    info = FeedInfo(MACOS_RELEASES, _stamp(meta, "lastModified", path), _urls(meta, "sourceUrls"))
    floors = []
    for index, row in enumerate(_rows(document, "data", path)):
        try:
            parts = [int(p) for p in str(row["version"]).split(".")]
            released = date.fromisoformat(str(row["release_date"]))
        except (KeyError, ValueError) as exc:
            raise FeedError(f"{path}: data[{index}] is not a macOS release ({exc})") from exc
        major, minor, patch = ([*parts, 0, 0])[:3]
        floors.append(FeedFloor(release=str(major), floor=f"{major}.{minor}.{patch}", released=released))
    return info, sorted(floors, key=lambda f: (f.release, f.released))


def read_ubuntu(directory: Path) -> tuple[FeedInfo, list[FeedRelease]]:
    path = directory / UBUNTU_RELEASES
    document = _load(path)
    meta = _field(document, "metadata", path)
    info = FeedInfo(UBUNTU_RELEASES, _stamp(meta, "lastModified", path), _urls(meta, "sourceUrls"))
    releases = []
    for index, row in enumerate(_rows(document, "data", path)):
        if not row.get("is_lts"):
            continue
        try:
            releases.append(
                FeedRelease(
                    release=str(row["version"]),
                    name=f"Ubuntu {row['version']} LTS ({row['codename']})",
                    released=date.fromisoformat(str(row["release_date"])),
                    standard_support_end=_day(row.get("standard_support_end")),
                    esm_support_end=_day(row.get("esm_support_end")),
                )
            )
        except (KeyError, ValueError) as exc:
            raise FeedError(f"{path}: data[{index}] is not an Ubuntu series ({exc})") from exc
    return info, releases


def _load(path: Path) -> Any:
    try:
        return json.loads(path.read_text("utf-8"))
    except FileNotFoundError as exc:
        raise FeedError(f"{path} does not exist; --feeds must name a directory holding {path.name}") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FeedError(f"{path} is not readable JSON: {exc}") from exc


def _field(document: Any, key: str, path: Path) -> dict[str, Any]:
    value = document.get(key) if isinstance(document, dict) else None
    if not isinstance(value, dict):
        raise FeedError(f"{path}: no {key!r} object; is this a DataForGeeks v2 dataset?")
    return value


def _rows(document: Any, key: str, path: Path) -> list[dict[str, Any]]:
    rows = document.get(key)
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise FeedError(f"{path}: {key!r} is not a list of rows")
    return rows


def _stamp(meta: dict[str, Any], key: str, path: Path) -> datetime:
    text = str(meta.get(key, ""))
    try:
        # .NET writes seven fractional digits; Python reads at most six.
        head, _, _rest = text.replace("Z", "").partition(".")
        stamp = datetime.fromisoformat(head)
    except ValueError as exc:
        raise FeedError(f"{path}: {key} {text!r} is not a timestamp") from exc
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


def _urls(meta: dict[str, Any], key: str) -> tuple[str, ...]:
    value = meta.get(key)
    return tuple(str(u) for u in value) if isinstance(value, list) else ()


def _day(value: object) -> date | None:
    return None if value in (None, "") else date.fromisoformat(str(value))
