"""osquery's own SQL expectations (osquery_sql_expectations.yaml) against the embedded engine.

Every case names the osquery test and line it comes from. The queries run through RecordedEngine
exactly as a policy does, on an empty device of each platform, so functions, collations and error
texts are osquery's wherever a policy can meet them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from fleetward.errors import QueryError
from fleetward.policy.model import Platform
from fleetward.recorded import RecordedDevice, RecordedEngine

CASES: list[dict[str, Any]] = yaml.safe_load(
    (Path(__file__).parent / "osquery_sql_expectations.yaml").read_text("utf-8")
)


def _sql(case: dict[str, Any]) -> str:
    sql = str(case["sql"])
    for name, spec in (case.get("expand") or {}).items():
        sql = sql.replace("{" + name + "}", spec["repeat"] * spec["times"])
    return sql


@pytest.fixture(scope="module", params=list(Platform), ids=lambda p: p.value)
def engine(request: pytest.FixtureRequest) -> Any:
    device = RecordedDevice(
        name="conformance", platform=request.param, recorded_at=datetime(2026, 12, 1, tzinfo=UTC)
    )
    engine = RecordedEngine(device)
    yield engine
    engine.close()


@pytest.mark.parametrize("case", CASES, ids=[f"{c['test']}@{c['source'].rsplit(':', 1)[1]}" for c in CASES])
def test_osquery_expectation(engine: RecordedEngine, case: dict[str, Any]) -> None:
    where = f"{case['source']} ({case['test']})"
    if "error" in case:
        with pytest.raises(QueryError) as raised:
            engine.query(_sql(case))
        if isinstance(case["error"], str):
            assert str(raised.value) == case["error"], where
        return
    rows = engine.query(_sql(case))
    assert len(rows) == 1, where
    if "row" in case:
        for column, expected in case["row"].items():
            assert rows[0][column] == expected, f"{where}: {column}"


def test_every_osquery_collation_test_is_ported() -> None:
    names = {c["test"] for c in CASES}
    for collation in ("version", "version_arch", "version_dpkg", "version_rhel"):
        for kind in ("eq", "lt", "gt"):
            assert f"test_collate_{collation}_{kind}" in names
    assert "test_version_compare" in names
