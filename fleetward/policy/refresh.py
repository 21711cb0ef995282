"""`fleetward policies baselines refresh`: add published floors to policies/baselines/*.yaml.

For each baseline the matching feed (feeds.py) gives candidate floors. A candidate is added when its
release is in the baseline and it is no older than the release's first floor (or, for a release
without floors, the baseline's first floor): earlier history is not needed to judge today. A
candidate on the same day as a hand-written floor replaces it (the feed is the vendor's data);
an existing floor gains the month's hotpatch build. `refreshed` becomes the feed's own last-updated
date (never earlier than before), and the feed copy is recorded under `sources:`.

The file is edited as text at the lines PyYAML's composer reports, so comments and layout stay;
running it twice on the same feeds changes nothing the second time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import yaml

from fleetward.errors import PolicyError
from fleetward.policy.baseline import Baseline, Floor, Release
from fleetward.policy.feeds import (
    MACOS_RELEASES,
    UBUNTU_RELEASES,
    WINDOWS_BUILDS,
    FeedFloor,
    FeedInfo,
    read_macos,
    read_ubuntu,
    read_windows,
)
from fleetward.policy.model import Platform

_FEED_FOR = {
    Platform.WINDOWS: WINDOWS_BUILDS,
    Platform.DARWIN: MACOS_RELEASES,
    Platform.LINUX: UBUNTU_RELEASES,
}


@dataclass(frozen=True)
class RefreshResult:
    baseline: str
    path: Path
    feed: FeedInfo | None
    refreshed: date
    added: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)
    changed: bool = False


def refresh_baselines(catalogue_dir: Path, feeds_dir: Path) -> list[RefreshResult]:
    """Refresh every baseline of the catalogue whose feed is in `feeds_dir`; write changed files."""
    if not feeds_dir.is_dir():
        raise PolicyError(f"--feeds {feeds_dir}: not a directory (expected the DataForGeeks files)")
    results = []
    for path in sorted((catalogue_dir / "baselines").glob("*.yaml")):
        text = path.read_text("utf-8")
        baseline = Baseline.model_validate(yaml.safe_load(text))
        feed_file = _FEED_FOR[baseline.platform]
        if not (feeds_dir / feed_file).is_file():
            note = f"skipped: no {feed_file} in {feeds_dir}"
            results.append(RefreshResult(baseline.name, path, None, baseline.refreshed, notes=(note,)))
            continue
        result, new_text = _refresh_one(path, text, baseline, feeds_dir)
        if new_text != text:
            path.write_text(new_text, "utf-8")
        results.append(result)
    return results


def _refresh_one(path: Path, text: str, baseline: Baseline, feeds_dir: Path) -> tuple[RefreshResult, str]:
    notes: list[str] = []
    candidates: list[FeedFloor] = []
    if baseline.platform is Platform.WINDOWS:
        info, candidates = read_windows(feeds_dir)
    elif baseline.platform is Platform.DARWIN:
        info, candidates = read_macos(feeds_dir)
    else:
        info, series = read_ubuntu(feeds_dir)
        known = {r.release for r in baseline.releases}
        newest = max(known, key=lambda v: tuple(int(p) for p in v.split(".")))
        for item in series:
            if item.release not in known and _newer(item.release, newest):
                notes.append(
                    f"the feed lists {item.name}, released {item.released}, which the baseline lacks: add it "
                    f"with its end dates from ubuntu.com/about/release-cycle"
                )
    first_overall = min((f.released for r in baseline.releases for f in r.floors), default=None)
    merged: dict[str, tuple[Floor, ...]] = {}
    added: list[str] = []
    for release in baseline.releases:
        since = min((f.released for f in release.floors), default=first_overall)
        if since is None:
            continue
        floors, changes = merge_floors(release, candidates, since, info.source_key)
        if changes:
            merged[release.release] = floors
            added.extend(changes)
    refreshed = max(baseline.refreshed, info.updated.date())
    new_text = text
    if merged or refreshed != baseline.refreshed:
        new_text = _rewrite(text, baseline, merged, refreshed, info)
    result = RefreshResult(
        baseline.name, path, info, refreshed, tuple(added), tuple(notes), changed=new_text != text
    )
    return result, new_text


def merge_floors(
    release: Release, candidates: list[FeedFloor], since: date, source: str
) -> tuple[tuple[Floor, ...], list[str]]:
    """The release's floors with the feed's added; and what changed, one line per floor."""
    by_day = {f.released: f for f in release.floors}
    changes: list[str] = []
    for candidate in candidates:
        if candidate.release != release.release or candidate.released < since:
            continue
        old = by_day.get(candidate.released)
        new = Floor(
            floor=candidate.floor,
            released=candidate.released,
            reference=candidate.reference or (old.reference if old else ""),
            source=source,
            hotpatch=candidate.hotpatch,
        )
        if old is None:
            changes.append(f"{release.release}: added {new.floor} ({new.released}){_hot(new)}")
        elif old.floor != new.floor:
            changes.append(f"{release.release}: {old.floor} -> {new.floor} ({new.released}), as published")
        elif new.hotpatch and old.hotpatch != new.hotpatch:
            changes.append(f"{release.release}: {old.floor} ({new.released}){_hot(new)}")
            new = old.model_copy(update={"hotpatch": new.hotpatch, "source": source})
        else:
            continue
        by_day[candidate.released] = new
    return tuple(by_day[d] for d in sorted(by_day)), changes


def _hot(floor: Floor) -> str:
    return f", hotpatch {floor.hotpatch}" if floor.hotpatch else ""


def _newer(version: str, than: str) -> bool:
    return tuple(int(p) for p in version.split(".")) > tuple(int(p) for p in than.split("."))


def _rewrite(
    text: str, baseline: Baseline, merged: dict[str, tuple[Floor, ...]], refreshed: date, info: FeedInfo
) -> str:
    lines = text.splitlines(keepends=True)
    root = yaml.compose(text)
    if not isinstance(root, yaml.MappingNode):
        raise PolicyError(f"baseline {baseline.name!r} is not a mapping")
    top = {k.value: (k, v) for k, v in root.value}
    edits: list[tuple[int, int, list[str]]] = []  # (first line, end line, replacement), 0-based
    releases_node = top["releases"][1]
    assert isinstance(releases_node, yaml.SequenceNode)
    for item in releases_node.value:
        keys = {k.value: (k, v) for k, v in item.value}
        name = keys["release"][1].value
        if name not in merged:
            continue
        indent = " " * item.start_mark.column
        block = [f"{indent}floors:\n"] + [f"{indent}  - {_floor_line(f)}\n" for f in merged[name]]
        if "floors" in keys:
            key, value = keys["floors"]
            edits.append((key.start_mark.line, _end_line(value, lines), block))
        else:
            end = _end_line(item, lines)
            edits.append((end, end, block))
    key, value = top["refreshed"]
    edits.append((key.start_mark.line, value.end_mark.line + 1, [f"refreshed: {refreshed.isoformat()}\n"]))
    if info.source_key not in baseline.sources:
        sources = top["sources"][1]
        end = _end_line(sources, lines)
        edits.append((end, end, [f"  {info.source_key}: >-\n", *_folded(info.source_text, "    ")]))
    for first, end, replacement in sorted(edits, reverse=True):
        lines[first:end] = replacement
    return "".join(lines)


def _end_line(node: yaml.Node, lines: list[str]) -> int:
    """The line after the node's last content line (a block node's end mark sits on the next key)."""
    last = node
    while isinstance(last, yaml.CollectionNode) and last.value and not last.flow_style:
        child = last.value[-1]
        last = child[1] if isinstance(child, tuple) else child
    end = last.end_mark.line if last.end_mark.column == 0 else last.end_mark.line + 1
    while end > node.start_mark.line + 1 and not lines[end - 1].strip():
        end -= 1
    return end


def _floor_line(floor: Floor) -> str:
    parts = [f'floor: "{floor.floor}"', f"released: {floor.released.isoformat()}"]
    if floor.reference:
        parts.append(f"reference: {floor.reference}")
    parts.append(f"source: {floor.source}")
    if floor.hotpatch:
        parts.append(f'hotpatch: "{floor.hotpatch}"')
    return "{" + ", ".join(parts) + "}"


def _folded(text: str, indent: str, width: int = 100) -> list[str]:
    out, line = [], ""
    for word in text.split():
        if line and len(indent) + len(line) + 1 + len(word) > width:
            out.append(f"{indent}{line}\n")
            line = word
        else:
            line = f"{line} {word}" if line else word
    return [*out, f"{indent}{line}\n"]
