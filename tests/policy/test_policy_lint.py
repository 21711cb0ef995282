"""lint catches each class of mistake, at the right file and line, and the shipped catalogue is clean.

Each broken file in tests/data/broken_policies/ marks the line the problem must be reported at
with `# MARK` (baselines: `# MARK-<KIND>`). The test drops it into a copy of the shipped catalogue.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fleetward.errors import PolicyLoadError
from fleetward.policy.catalogue import default_policies_dir, load_catalogue
from fleetward.policy.lint import lint_catalogue

BROKEN = Path(__file__).parents[1] / "data" / "broken_policies"
AT = datetime(2026, 11, 15, tzinfo=UTC)


def test_shipped_catalogue_lints_clean() -> None:
    assert lint_catalogue(None, AT) == []


def catalogue_with(tmp_path: Path, *files: str) -> Path:
    root = tmp_path / "policies"
    shutil.copytree(default_policies_dir(), root)
    for name in files:
        target = root / name
        target.parent.mkdir(exist_ok=True)
        shutil.copy(BROKEN / name, target)
    return root


def marked_line(name: str, mark: str = "# MARK") -> int:
    for number, line in enumerate((BROKEN / name).read_text().splitlines(), start=1):
        if line.rstrip().endswith(mark):
            return number
    raise AssertionError(f"{name} has no {mark!r} line")


CASES = [
    ("unknown-field.yaml", "severty: unknown field"),
    ("id-not-stem.yaml", "must equal the file stem 'id-not-stem'"),
    ("sql-syntax.yaml", "syntax error"),
    ("unknown-column.yaml", "no such column: protection_state"),
    ("table-not-on-platform.yaml", "osquery 5.12.1's darwin schema: no such table: bitlocker_info"),
    ("master-only-column.yaml", "osquery 5.23.1's windows schema: no such column: protector_types"),
    ("operator-version-compare.yaml", "query fails when run on recorded device win11-25h2-ent-compliant"),
    ("required-column-missing.yaml", "Table plist was queried without a required column in the WHERE clause"),
    ("unknown-function.yaml", "no such function: semver_compare"),
    ("unknown-control.yaml", "control '99.9' is not in frameworks/dspt.yaml"),
    ("unknown-framework.yaml", "frameworks.iso-27001: unknown framework"),
    ("missing-baseline.yaml", "baseline: 'windows-2019' not found"),
    ("baseline-wrong-platform.yaml", "is for windows, which is not one of the policy's platforms"),
    ("negative-grace.yaml", "grace"),
    ("bad-platform.yaml", "platforms.1"),
    ("two-statements.yaml", "single SELECT statement"),
]


@pytest.mark.parametrize(("name", "message"), CASES, ids=[c[0] for c in CASES])
def test_lint_reports_the_mistake_at_its_line(tmp_path: Path, name: str, message: str) -> None:
    root = catalogue_with(tmp_path, name)
    problems = lint_catalogue(root, AT)
    ours = [p for p in problems if p.path == str(root / name)]
    assert ours, f"no problem reported for {name}; got {problems}"
    assert any(message in p.message for p in ours), ours
    assert any(p.line == marked_line(name) for p in ours if message in p.message), ours
    # Nothing else in the (otherwise clean) catalogue is blamed.
    assert all(p.path == str(root / name) for p in problems)


def test_yaml_syntax_errors_name_where_the_broken_construct_started(tmp_path: Path) -> None:
    root = catalogue_with(tmp_path, "yaml-syntax.yaml")
    (problem,) = lint_catalogue(root, AT)
    assert problem.message.startswith("YAML syntax error")
    assert f"started at line {marked_line('yaml-syntax.yaml')}" in problem.message


def test_duplicate_ids_are_reported_on_the_second_file(tmp_path: Path) -> None:
    root = catalogue_with(tmp_path, "duplicate-id.yaml", "duplicate-id.yml")
    problems = lint_catalogue(root, AT)
    assert [(Path(p.path).name, p.line) for p in problems if "already used" in p.message] == [
        ("duplicate-id.yml", marked_line("duplicate-id.yml"))
    ]


@pytest.mark.parametrize(
    ("mark", "message"),
    [
        ("# MARK-ORDER", "floors must be in release order"),
        ("# MARK-ORDER", "is not above the previous floor"),
        ("# MARK-RELEASE", "does not belong to release '26100'"),
        ("# MARK-SOURCE", "source 'MSB' is not defined"),
        ("# MARK-DUPLICATE", "listed more than once"),
        ("# MARK-EDITION", "edition 'pro' is not one of"),
    ],
)
def test_baseline_mistakes_are_reported_at_their_line(tmp_path: Path, mark: str, message: str) -> None:
    name = "baselines/unordered.yaml"
    root = catalogue_with(tmp_path, name)
    problems = [p for p in lint_catalogue(root, AT) if p.path == str(root / name)]
    assert any(message in p.message and p.line == marked_line(name, mark) for p in problems), problems


def test_an_impossible_date_is_reported_at_its_line(tmp_path: Path) -> None:
    name = "baselines/bad-date.yaml"
    root = catalogue_with(tmp_path, name)
    problems = lint_catalogue(root, AT)
    assert [(Path(p.path).name, p.line) for p in problems] == [("bad-date.yaml", marked_line(name))]


def test_load_catalogue_refuses_a_broken_catalogue_naming_file_line_and_field(tmp_path: Path) -> None:
    root = catalogue_with(tmp_path, "unknown-field.yaml")
    with pytest.raises(PolicyLoadError) as caught:
        load_catalogue(root)
    (problem,) = caught.value.problems
    assert (
        str(problem)
        == f"{root / 'unknown-field.yaml'}:{marked_line('unknown-field.yaml')}: " + problem.message
    )
    assert problem.message.startswith("severty:")


def test_missing_directory_is_a_clear_problem(tmp_path: Path) -> None:
    (problem,) = lint_catalogue(tmp_path / "nope", AT)
    assert "catalogue directory not found" in problem.message


def test_every_supported_release_is_compiled_against(tmp_path: Path) -> None:
    root = catalogue_with(tmp_path, "master-only-column.yaml")
    releases = {p.message.split("osquery ")[1].split("'")[0] for p in lint_catalogue(root, AT)}
    assert releases == {"5.12.1", "5.23.1"}


def test_a_catalogue_declares_its_releases(tmp_path: Path) -> None:
    root = catalogue_with(tmp_path)
    (root / "catalogue.yaml").write_text('osquery_releases: ["5.23.1", "5.9.1"]\n')
    (problem,) = lint_catalogue(root, AT)
    assert problem.path == str(root / "catalogue.yaml")
    assert "osquery 5.9.1 has no schema here; supported releases: 5.12.1, 5.23.1" in problem.message


def test_a_release_only_newer_osquery_has_is_caught_on_the_oldest(tmp_path: Path) -> None:
    root = catalogue_with(tmp_path)
    policy = (root / "encryption-windows-bitlocker.yaml").read_text()
    (root / "encryption-windows-bitlocker.yaml").write_text(
        policy.replace(
            "SELECT drive_letter,", "SELECT (SELECT emulated_cpu_type FROM system_info) AS emu, drive_letter,"
        )
    )
    messages = [p.message for p in lint_catalogue(root, AT, devices=[])]
    assert messages == [
        "query does not compile against osquery 5.12.1's windows schema: no such column: emulated_cpu_type"
    ]
