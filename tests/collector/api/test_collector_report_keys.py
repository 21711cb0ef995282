"""The collector signs every report it issues and serves the keys that verify them."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from collector.app import create_app
from collector.reports.signing import ReportKeys
from collector.reports.verify import verify_bytes
from collector.settings import CollectorSettings
from fleetward.bundle.keys import PublicKey
from fleetward.clock import ManualClock
from tests.collector.support import Fleet, bearer, result


@pytest.mark.parametrize("fmt", ["json", "csv", "html", "pdf"])
def test_every_issued_report_verifies_with_the_served_key(fleet: Fleet, fmt: str) -> None:
    device = fleet.enroll()
    fleet.report(device, [result("encryption-windows-bitlocker", "fail")])
    keys = fleet.client.get("/.well-known/fleetward-report-keys")  # public: no token
    assert keys.status_code == 200
    served = [PublicKey.from_text(k["public_key"]) for k in keys.json()["keys"]]
    assert [k["current"] for k in keys.json()["keys"]] == [True]
    report = fleet.client.get(f"/v1/reports/{fmt}", headers=bearer(fleet.admin))
    assert report.status_code == 200
    verified = verify_bytes(report.content, trusted=served)
    assert verified.ok, verified.checks
    assert verified.authenticity.startswith("authentic")
    assert not verify_bytes(report.content, trusted=[ReportKeys.ephemeral().current.public]).ok


def test_the_key_file_is_made_on_first_start_and_kept_across_restarts(
    database_url: str, clock: ManualClock, tmp_path: Path
) -> None:
    path = tmp_path / "report-key.pem"
    settings = CollectorSettings(database_url=database_url, report_signing_key_file=path)  # type: ignore[arg-type]

    def served() -> list[str]:
        with TestClient(create_app(settings, clock=clock)) as client:
            return [k["key_id"] for k in client.get("/.well-known/fleetward-report-keys").json()["keys"]]

    first = served()
    assert path.stat().st_mode & 0o777 == 0o600
    assert served() == first
    ReportKeys.rotate(path)
    rotated = served()
    assert len(rotated) == 2
    assert rotated[1] == first[0]
