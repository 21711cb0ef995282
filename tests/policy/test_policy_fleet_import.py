"""`fleetward policies import` on real Fleet policies (tests/data/fleet_policies, at their fleetdm/fleet
paths): import, lint against osquery 5.12.1 and 5.23.1 with orbit's tables, evaluate on recorded devices."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fleetward.cli import app
from fleetward.policy.catalogue import load_catalogue
from fleetward.policy.fleet_import import read_fleet_files, rows_mean_pass
from fleetward.policy.lint import lint_catalogue
from fleetward.policy.model import Platform
from fleetward.policy.run import evaluate_catalogue
from fleetward.policy.verdict import Status
from fleetward.recorded import RecordedEngine
from fleetward.recorded.model import load_devices

DATA = Path(__file__).parents[1] / "data"
CORPUS = sorted((DATA / "fleet_policies").rglob("*.yml"))
AT = datetime(2026, 11, 15, tzinfo=UTC)


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fleet") / "policies"
    result = CliRunner().invoke(app, ["policies", "import", *map(str, CORPUS), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "imported 45 Fleet policies" in result.output
    assert "skipped 2 documents that are not policies" in result.output
    return out


def test_the_corpus_is_at_least_thirty_real_fleet_policies() -> None:
    result = read_fleet_files(CORPUS)
    assert result.problems == []
    assert len(result.policies) >= 30
    assert all("fleet_policies/fleetdm/fleet/" in p.source for p in result.policies)


def test_imported_files_load_as_a_catalogue_with_stable_ids_and_sources(imported: Path) -> None:
    catalogue = load_catalogue(imported)
    assert len(catalogue.policies) == 45
    bitlocker = catalogue.policy("fleet-windows-bitlocker-enabled")
    assert bitlocker.platforms == (Platform.WINDOWS,)
    assert (
        bitlocker.query == "SELECT 1 FROM bitlocker_info WHERE drive_letter = 'C:' AND protection_status = 1"
    )
    assert "it-and-security/lib/windows/policies/bitlocker-enabled.yml" in bitlocker.references[0]
    assert catalogue.policy("fleet-ssh-keys-encrypted").platforms == (
        Platform.DARWIN,
        Platform.LINUX,
        Platform.WINDOWS,
    )
    assert catalogue.policy("fleet-gatekeeper-enabled-macos").severity.value == "critical"  # tagged critical
    assert "extensions: [fleet-orbit]" in (imported / "catalogue.yaml").read_text()


def test_reimporting_writes_the_same_files(imported: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    result = CliRunner().invoke(app, ["policies", "import", *map(str, CORPUS), "--out", str(again)])
    assert result.exit_code == 0, result.output
    for path in imported.iterdir():
        assert (again / path.name).read_text() == path.read_text(), path.name


def test_lint_finds_exactly_the_fleet_policies_osqueryd_would_refuse(imported: Path) -> None:
    problems = lint_catalogue(imported, AT)
    found = sorted({(Path(p.path).stem, p.message.split(": ", 1)[1]) for p in problems})
    assert found == [
        # specs/curl.table names the response body `result`; there is no `content` column.
        ("fleet-linux-firefox-up-to-date", "no such column: content"),
        # macadmins' `mdm` table is registered on macOS only (orbit/pkg/table/extension_darwin.go).
        ("fleet-windows-mdm-enrolled-soc-2", "no such table: mdm"),
    ]
    releases = {p.message.split("osquery ")[1].split("'")[0] for p in problems}
    assert releases == {"5.12.1", "5.23.1"}


def test_without_orbit_tables_lint_says_which_are_missing(imported: Path) -> None:
    (imported.parent / "plain").mkdir()
    plain = imported.parent / "plain" / "policies"
    plain.mkdir()
    for path in imported.glob("fleet-*.yaml"):
        (plain / path.name).write_text(path.read_text())
    messages = {p.message for p in lint_catalogue(plain, AT, devices=[])}
    assert (
        "query does not compile against osquery 5.23.1's darwin schema: no such table: filevault_status"
        in messages
    )
    assert (
        "query does not compile against osquery 5.23.1's windows schema: no such table: windows_updates"
        in messages
    )


def test_imported_policies_evaluate_with_rows_meaning_pass(imported: Path) -> None:
    catalogue = load_catalogue(imported)
    verdicts = {}
    for device in load_devices(DATA / "fleet_devices"):
        engine = RecordedEngine(device)
        for result in evaluate_catalogue(catalogue, device.platform, engine.query, AT):
            verdicts[(device.name, result.policy_id)] = result
        engine.close()
    expected = {
        ("macos-26-fleetd", "fleet-macos-filevault-enabled"): Status.PASS,
        ("macos-26-fleetd", "fleet-mdm-enrolled-macos"): Status.PASS,
        ("macos-26-fleetd", "fleet-macos-all-available-software-updates-installed"): Status.FAIL,
        ("macos-26-fleetd", "fleet-operating-system-up-to-date"): Status.PASS,  # `version` collation: 26.6.2
        ("macos-26-fleetd", "fleet-gatekeeper-enabled-macos"): Status.PASS,
        ("macos-26-fleetd", "fleet-screen-lock-enabled-macos"): Status.FAIL,
        ("win11-25h2-fleetd", "fleet-all-available-updates-installed"): Status.FAIL,
        ("win11-25h2-fleetd", "fleet-windows-bitlocker-enabled"): Status.PASS,
        (
            "win11-25h2-fleetd",
            "fleet-windows-firefox-up-to-date",
        ): Status.PASS,  # version_compare, none installed
        ("win11-25h2-fleetd", "fleet-windows-mdm-enrolled-soc-2"): Status.ERROR,
    }
    assert {key: verdicts[key].status for key in expected} == expected
    assert verdicts[("win11-25h2-fleetd", "fleet-windows-mdm-enrolled-soc-2")].error == "no such table: mdm"
    assert verdicts[("macos-26-fleetd", "fleet-macos-filevault-enabled")].evidence == [{"1": "1"}]


def test_a_fleet_query_with_a_compliant_column_still_means_rows_pass() -> None:
    assert rows_mean_pass("SELECT 1 AS compliant FROM os_version;", ["compliant"]) == (
        "SELECT 1 AS fleet_row FROM (\nSELECT 1 AS compliant FROM os_version\n)"
    )
    assert rows_mean_pass("SELECT 1 FROM os_version;  ", ["1"]) == "SELECT 1 FROM os_version"


def test_a_broken_fleet_file_is_named_and_the_rest_imported(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "- name: no query here\n  platform: windows\n- name: ok\n  query: SELECT 1;\n  platform: chrome,linux\n"
    )
    result = read_fleet_files([bad])
    assert [str(p) for p in result.problems] == [f"{bad}:1: item 1: a policy needs both `name` and `query`"]
    assert [(p.id, p.platforms) for p in result.policies] == [("fleet-ok", (Platform.LINUX,))]
    broken = tmp_path / "broken.yml"
    broken.write_text("- name: [unclosed\n")
    outcome = CliRunner().invoke(app, ["policies", "import", str(broken), "--out", str(tmp_path / "out")])
    assert outcome.exit_code == 2
    assert "not valid YAML" in outcome.output
    assert "no Fleet policies found" in outcome.output


def test_one_name_for_two_fleet_policies_gives_two_stable_ids(tmp_path: Path) -> None:
    source = tmp_path / "two.yml"
    source.write_text(
        "- name: Disk encrypted\n  query: SELECT 1 FROM bitlocker_info;\n  platform: windows\n"
        "- name: Disk encrypted\n  query: SELECT 1 FROM disk_encryption WHERE encrypted = 1;\n  platform: linux\n"
        "- name: Disk encrypted\n  query: SELECT 1 FROM bitlocker_info;\n  platform: windows\n"
    )
    first = [p.id for p in read_fleet_files([source]).policies]
    assert first[0] == "fleet-disk-encrypted"
    assert len(first) == 2
    assert first[1].startswith("fleet-disk-encrypted-")
    assert [p.id for p in read_fleet_files([source]).policies] == first
