"""`fleetward report` end to end: from the collector's database and over HTTP, then `verify`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fleetward.cli import app
from tests.ui.live_collector import LiveCollector

AT = "2026-12-06T09:00:00Z"
STAMP = ["--at", AT, "--generated-at", "2026-12-07T08:00:00Z"]


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["report", *args], env=env)
    return result.exit_code, result.stdout, result.stderr


def test_report_from_the_database_is_reproducible_and_verifies(
    live_collector: LiveCollector, tmp_path: Path
) -> None:
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    for out in (first, second):
        code, _, err = run(
            "--database-url", live_collector.database_url, "--format", "json", *STAMP, "--out", str(out)
        )
        assert code == 0, err
        assert "report digest sha256:" in err
    assert first.read_bytes() == second.read_bytes()
    document = json.loads(first.read_bytes())
    assert document["source"].startswith("database sqlite:///")
    assert document["summary"]["devices"] == 23
    code, out, _ = run("verify", str(first))
    assert code == 0
    assert "verified (json)" in out


@pytest.mark.parametrize("fmt", ["csv", "html", "pdf"])
def test_report_over_http_matches_the_database_and_checks_against_json(
    live_collector: LiveCollector, tmp_path: Path, fmt: str
) -> None:
    as_json, copy = tmp_path / "r.json", tmp_path / f"r.{fmt}"
    env = {"FLEETWARD_TOKEN": live_collector.auditor_token}
    assert run("--collector", live_collector.url, "-f", "json", *STAMP, "-o", str(as_json), env=env)[0] == 0
    assert run("--collector", live_collector.url, "-f", fmt, *STAMP, "-o", str(copy), env=env)[0] == 0
    from_http = json.loads(as_json.read_bytes())
    assert from_http["source"] == f"collector {live_collector.url}"
    db_json = tmp_path / "db.json"
    assert (
        run("--database-url", live_collector.database_url, "-f", "json", *STAMP, "-o", str(db_json))[0] == 0
    )
    from_db = json.loads(db_json.read_bytes())
    for member in ("summary", "pairs", "controls", "breaches", "trend"):
        assert from_http[member] == from_db[member], member
    code, out, _ = run("verify", str(copy), "--against", str(as_json))
    assert code == 0, out
    data = bytearray(copy.read_bytes())
    data[len(data) // 3] ^= 0x20
    copy.write_bytes(bytes(data))
    code, out, err = run("verify", str(copy))
    assert code == 1
    assert "FAIL seal" in out
    assert "NOT verified" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--database-url", "sqlite:///x.db", "--collector", "http://127.0.0.1:1"],
            "give either --database-url",
        ),
        (["--collector", "http://127.0.0.1:1"], "--collector needs --token"),
        (["--database-url", "sqlite:///x.db", "--format", "docx"], "--format 'docx' is not one of"),
        (["--database-url", "sqlite:///x.db", "--from", AT], "a period needs both --from and --to"),
        (["--database-url", "sqlite:///x.db", "--at", "yesterday"], "is not an ISO 8601 instant"),
        (["--database-url", "sqlite:///x.db", "--at", "2026-12-06T09:00:00"], "has no time zone"),
        (["--collector", "http://127.0.0.1:1", "--token", "t", "-f", "json"], "could not reach collector"),
    ],
)
def test_bad_requests_get_a_clear_error_not_a_traceback(
    args: list[str], message: str, live_collector: LiveCollector
) -> None:
    if "--database-url" in args:
        args = [live_collector.database_url if a == "sqlite:///x.db" else a for a in args]
    code, out, err = run(*args)
    assert code == 2
    assert message in " ".join((out + err).split())
    assert "Traceback" not in out + err


def test_wrong_token_over_http_says_which_role_is_needed(live_collector: LiveCollector) -> None:
    code, _, err = run("--collector", live_collector.url, "--token", live_collector.device_key, "-f", "json")
    assert code == 2
    assert "use an auditor or admin token" in err
