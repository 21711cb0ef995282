"""The osqueryi fallback: a subprocess per query, argv list, timeout, JSON parsed and coerced."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import pytest

from agent.errors import OsqueryUnavailable
from agent.osquery.osqueryi import OsqueryiRunner
from fleetward.errors import QueryError
from tests.agent.conftest import windows_laptop

# osqueryi cannot be installed here: this stand-in answers `osqueryi --json SQL` from a recorded
# device with the same engine as the Thrift server, prints errors as osqueryi does, and can hang.
FAKE_OSQUERYI = """#!{python}
import json, sys, time
from fleetward.recorded import RecordedDevice, RecordedEngine
from fleetward.errors import QueryError
assert sys.argv[1] == "--json", sys.argv
sql = sys.argv[2]
if "hang" in sql:
    time.sleep(30)
if "numerics" in sql:
    print(json.dumps([{{"n": 1, "x": 2.5, "empty": None}}]))
    sys.exit(0)
engine = RecordedEngine(RecordedDevice.model_validate_json({device!r}))
try:
    print(json.dumps(engine.query(sql)))
except QueryError as exc:
    print("Error: " + str(exc), file=sys.stderr)
    sys.exit(1)
"""


@pytest.fixture
def osqueryi(tmp_path: Path) -> Path:
    script = tmp_path / "osqueryi"
    device_json = windows_laptop().model_dump_json()
    script.write_text(FAKE_OSQUERYI.format(python=sys.executable, device=device_json))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_answers_rows_of_strings(osqueryi: Path) -> None:
    runner = OsqueryiRunner(osqueryi, query_timeout=20)
    assert runner.query("SELECT build, revision FROM os_version") == [{"build": "26100", "revision": "8655"}]


def test_numbers_from_logger_numerics_are_coerced_to_text(osqueryi: Path) -> None:
    runner = OsqueryiRunner(osqueryi, query_timeout=20)
    assert runner.query("SELECT 'numerics'") == [{"n": "1", "x": "2.5", "empty": ""}]


def test_sql_error_is_a_query_error_without_the_prefix(osqueryi: Path) -> None:
    runner = OsqueryiRunner(osqueryi, query_timeout=20)
    with pytest.raises(QueryError, match=r"^no such table: disk_encryption"):
        runner.query("SELECT * FROM disk_encryption")


def test_a_hung_osqueryi_is_killed_at_the_timeout(osqueryi: Path) -> None:
    runner = OsqueryiRunner(osqueryi, query_timeout=0.5)
    with pytest.raises(QueryError, match=r"did not answer within 0.5s"):
        runner.query("SELECT 'hang'")


def test_missing_executable_names_it(tmp_path: Path) -> None:
    with pytest.raises(OsqueryUnavailable, match="no-such-osqueryi"):
        OsqueryiRunner(tmp_path / "no-such-osqueryi", query_timeout=1)
