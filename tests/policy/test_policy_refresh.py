"""`fleetward policies baselines refresh` from the stored DataForGeeks feeds (tests/data/feeds).

B-week rows only, hotpatch modelled, each floor's source recorded, idempotent, lint clean, and a
feed older than the instant it must cover reported as stale.
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

from typer.testing import CliRunner

from fleetward.cli import app
from fleetward.policy.catalogue import default_policies_dir, load_catalogue
from fleetward.policy.feeds import read_windows
from fleetward.policy.lint import lint_catalogue
from fleetward.policy.run import evaluate_catalogue
from fleetward.policy.verdict import Status
from fleetward.recorded import RecordedEngine, load_devices

FEEDS = Path(__file__).parents[1] / "data" / "feeds"
runner = CliRunner()


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "policies"
    shutil.copytree(default_policies_dir(), root)
    return root


def _drop_floors(root: Path, released: str) -> None:
    """Take a month out of every Windows release, as if the file predated it."""
    path = root / "baselines" / "windows.yaml"
    kept = [
        line
        for line in path.read_text("utf-8").splitlines(keepends=True)
        if f"released: {released}" not in line
    ]
    path.write_text("".join(kept), "utf-8")


def test_the_shipped_baselines_are_exactly_what_refresh_makes_of_the_feeds(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    before = {p.name: p.read_text("utf-8") for p in (root / "baselines").glob("*.yaml")}
    result = runner.invoke(
        app, ["policies", "baselines", "refresh", "--feeds", str(FEEDS), "--catalogue", str(root)]
    )
    assert "updated" not in result.stdout, result.output
    assert {p.name: p.read_text("utf-8") for p in (root / "baselines").glob("*.yaml")} == before


def test_refresh_adds_the_missing_b_week_floors_with_their_source_and_is_idempotent(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    _drop_floors(root, "2026-05-12")
    args = [
        "policies",
        "baselines",
        "refresh",
        "--feeds",
        str(FEEDS),
        "--catalogue",
        str(root),
        "--at",
        "2026-06-01T00:00:00Z",
    ]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "windows: updated" in first.stdout
    assert "26200: added 26200.8457 (2026-05-12), hotpatch 26200.8390" in first.stdout
    text = (root / "baselines" / "windows.yaml").read_text("utf-8")
    assert (
        '{floor: "26200.8457", released: 2026-05-12, reference: KB5089549, source: DFG-WIN-2026-06-23, '
        'hotpatch: "26200.8390"}'
    ) in text
    source = load_catalogue(root).baselines["windows"].sources["DFG-WIN-2026-06-23"]
    assert "content/ms/mswin/buildnumbers.json (last updated 2026-06-23T20:03:34Z)" in source
    second = runner.invoke(app, args)
    assert second.exit_code == 0
    assert "updated" not in second.stdout
    assert (root / "baselines" / "windows.yaml").read_text("utf-8") == text
    assert lint_catalogue(root, datetime(2026, 6, 1, tzinfo=UTC)) == []


def test_only_patch_tuesday_cumulative_updates_become_floors() -> None:
    _, floors = read_windows(FEEDS)
    rows = json.loads((FEEDS / "ms-mswin-buildnumbers.json").read_text("utf-8"))["Data"]
    not_floors = {
        r["Version"] for r in rows if r["Comment"].strip() in ("Preview", "Out-of-band", "Hotpatch")
    }
    assert not_floors
    assert not ({f.floor for f in floors} & not_floors)
    assert all(f.released.weekday() == 1 and 8 <= f.released.day <= 14 for f in floors)
    # Two B-week rows for 26100 on 13 Jan 2026: the client's .7623 and the Server line's .32230.
    assert [f.floor for f in floors if f.release == "26100" and f.released == date(2026, 1, 13)] == [
        "26100.7623"
    ]


def test_between_a_hotpatch_build_and_its_cumulative_update_there_are_only_hotpatch_builds() -> None:
    """Why the `floor` column can be the hotpatch build for every edition (fleetward/policy/baseline.py)."""
    _, floors = read_windows(FEEDS)
    rows = json.loads((FEEDS / "ms-mswin-buildnumbers.json").read_text("utf-8"))["Data"]
    hot = [f for f in floors if f.hotpatch]
    assert len(hot) >= 6
    for floor in hot:
        assert floor.hotpatch is not None
        low, high = int(floor.hotpatch.split(".")[1]), int(floor.floor.split(".")[1])
        between = [
            r for r in rows
            if r["Version"].split(".")[0] == floor.release and low <= int(r["Version"].split(".")[1]) < high
        ]  # fmt: skip
        assert {r["Comment"] for r in between} == {"Hotpatch"}, between


def test_a_hotpatched_enterprise_laptop_is_patched_in_a_hotpatch_month() -> None:
    catalogue = load_catalogue()
    template = next(d for d in load_devices() if d.name == "win11-25h2-ent-compliant")
    june_first = datetime(2026, 6, 1, 9, tzinfo=UTC)  # May's floor (hotpatch month) is in force

    def verdict(revision: str) -> Status:
        tables = dict(template.tables)
        tables["os_version"] = [{**tables["os_version"][0], "revision": revision}]
        device = template.model_copy(update={"tables": tables, "recorded_at": june_first})
        engine = RecordedEngine(device)
        try:
            results = evaluate_catalogue(catalogue, device.platform, engine.query, june_first)
        finally:
            engine.close()
        return next(r.status for r in results if r.policy_id == "patch-windows-build-current")

    assert verdict("8390") is Status.PASS  # May 2026 hotpatch
    assert verdict("8457") is Status.PASS  # May 2026 cumulative update
    assert verdict("8328") is Status.FAIL  # April's optional preview: not May's fixes
    assert verdict("8246") is Status.FAIL  # April's cumulative update


def test_a_feed_older_than_the_instant_it_must_cover_is_reported_as_stale(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    result = runner.invoke(
        app,
        [
            "policies",
            "baselines",
            "refresh",
            "--feeds",
            str(FEEDS),
            "--catalogue",
            str(root),
            "--at",
            "2026-12-01T09:00:00Z",
        ],
    )
    assert result.exit_code == 1
    assert re.search(
        r"still stale at 2026-12-01: ms-mswin-buildnumbers.json \(updated 2026-06-23\) is older than the "
        r"2026-11-10 floor it must hold",
        result.stderr,
    )
    assert "apple-macos-releases.json (updated 2026-08-18)" in result.stderr
    assert "linux-ubuntu-releases.json" not in result.stderr


def test_show_lists_provenance_and_exits_1_while_a_baseline_is_stale() -> None:
    result = runner.invoke(app, ["policies", "baselines", "show", "--json", "--at", "2026-12-01T09:00:00Z"])
    assert result.exit_code == 1
    rows = {r["baseline"]: r for r in json.loads(result.stdout)}
    assert rows["windows"]["state"] == "stale"
    assert rows["windows"]["newest_floor"] == "2026-06-09"
    assert rows["windows"]["refreshed"] == "2026-06-23"
    assert "DFG-WIN-2026-06-23" in rows["windows"]["sources"]
    fresh = runner.invoke(app, ["policies", "baselines", "show", "--at", "2026-07-01T00:00:00Z"])
    assert fresh.exit_code == 0, fresh.output


def test_a_missing_feed_directory_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["policies", "baselines", "refresh", "--feeds", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "not a directory" in result.output
