"""The committed per-release schemas are osquery's: generated from specs/ by scripts/osquery_schema.py
with gentable's rules, and agreeing with /work/shared/facts where the fact is right."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fleetward.policy.model import Platform
from fleetward.recorded.schema import load_schema, supported_releases

ROOT = Path(__file__).parents[2]
SCHEMAS = ROOT / "fleetward" / "recorded" / "schemas"
# shared/ sits beside the checkout (CI) or two levels up (a worktree under wt/).
FACTS = Path(
    os.environ.get(
        "FLEETWARD_FACTS",
        next(
            (p / "shared" / "facts" for p in (ROOT.parent, ROOT.parent.parent) if (p / "shared").is_dir()),
            ROOT,
        ),
    )
)
OSQUERY_REPO = Path(os.environ.get("OSQUERY_REPO", "/work/.mirror/osquery+osquery/repo"))
# specs/CMakeLists.txt builds sleuthkit/device_{file,hash,partitions}.table for "linux,macos,windows";
# the facts (like osquery's website, tools/codegen/genwebsitejson.py PLATFORM_DIRS) say darwin and linux.
# The build decides what osqueryd has.
FACT_EXCEPTIONS = {"device_file", "device_hash", "device_partitions"}


def test_supported_releases_are_the_oldest_and_newest() -> None:
    assert supported_releases() == ("5.12.1", "5.23.1")


def _facts() -> dict[str, dict[str, object]]:
    path = FACTS / "osquery-schema-5.23.1.json"
    if not path.is_file():
        pytest.skip(f"{path} is not on this machine (set FLEETWARD_FACTS)")
    return json.loads(path.read_text("utf-8"))["tables"]  # type: ignore[no-any-return]


def test_5_23_1_matches_the_researched_facts() -> None:
    facts = _facts()
    ours = json.loads((SCHEMAS / "osquery-5.23.1.json").read_text("utf-8"))["tables"]
    assert set(ours) == set(facts)
    for name, fact in facts.items():
        if name in FACT_EXCEPTIONS:
            continue
        table = ours[name]
        assert sorted(table["platforms"]) == sorted(fact["platforms"]), name
        mine = {c["name"]: c for c in table["columns"]}
        theirs = {c["name"]: c for c in fact["columns"]}  # type: ignore[union-attr]
        assert list(mine) == list(theirs), name
        for column, spec in theirs.items():
            # gentable.py: DATETIME is TEXT_TYPE; the facts write the affinity.
            ours_type = "TEXT" if mine[column]["type"] == "DATETIME" else mine[column]["type"]
            assert (ours_type, mine[column]["hidden"], mine[column].get("collate")) == (
                spec["type"],
                spec["hidden"],
                spec.get("collate"),
            ), f"{name}.{column}"
            assert sorted(mine[column]["platforms"]) == sorted(spec.get("platforms", fact["platforms"]))


def test_release_facts_the_policies_depend_on() -> None:
    new, old = load_schema("5.23.1"), load_schema("5.12.1")
    assert not new.has_column("bitlocker_info", "protector_types", Platform.WINDOWS)  # master only (#8873)
    assert old.has_column("os_version", "revision", Platform.WINDOWS)  # #8265, in 5.12.0 and later
    assert new.has_column("secureboot", "setup_mode", Platform.DARWIN)  # extended_schema: hidden there
    setup_mode = next(c for c in new.tables["secureboot"].columns if c.name == "setup_mode")
    assert setup_mode.hidden_on(Platform.DARWIN)
    assert not setup_mode.hidden_on(Platform.LINUX)
    assert [c.name for c in new.tables["plist"].columns if c.required] == ["path"]
    assert "example" not in new.tables  # specs/denylist
    assert "example" not in old.tables


@pytest.mark.parametrize("release", ["5.12.1", "5.23.1"])
def test_committed_schema_is_what_the_generator_makes_from_osquerys_tag(release: str, tmp_path: Path) -> None:
    if not (OSQUERY_REPO / "HEAD").is_file():
        pytest.skip(f"no osquery clone at {OSQUERY_REPO} (set OSQUERY_REPO to a clone with the release tags)")
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "osquery_schema.py"),
            "--repo",
            str(OSQUERY_REPO),
            "--out",
            str(tmp_path),
            release,
        ],
        check=True,
        capture_output=True,
    )
    name = f"osquery-{release}.json"
    assert (tmp_path / name).read_text("utf-8") == (SCHEMAS / name).read_text("utf-8")
