"""`fleetward collector ...`: migrate, tokens and enroll secrets from the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from collector.app import create_app
from collector.cli import app
from collector.settings import CollectorSettings

runner = CliRunner()


def _run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_tokens_and_secrets_from_the_cli_work_over_http(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    assert _run("migrate", "--database-url", url)[0] == 0
    code, token, note = _run(
        "token", "create", "--name", "DSPT auditor", "--role", "auditor", "--database-url", url
    )
    assert code == 0
    token = token.strip()
    assert token.startswith("fwt_")
    assert len(token) > 40
    assert "not shown again" in note
    code, listing, _ = _run("token", "list", "--database-url", url)
    assert "DSPT auditor" in listing
    assert token not in listing
    code, secret, _ = _run(
        "enroll-secret", "create", "--practice", "Y01234", "--expires-in", "P7D", "--database-url", url
    )
    secret = secret.strip()
    with TestClient(create_app(CollectorSettings(database_url=url))) as client:  # type: ignore[arg-type]
        assert client.get("/v1/devices", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        enrolled = client.post(
            "/v1/enroll",
            json={"enroll_secret": secret, "host": {"uuid": "U1", "hostname": "h", "platform": "linux"}},
        )
        assert enrolled.status_code == 200
    token_id = next(line.split()[1] for line in listing.splitlines() if "tok_" in line)
    assert _run("token", "revoke", token_id, "--database-url", url)[0] == 0
    with TestClient(create_app(CollectorSettings(database_url=url))) as client:  # type: ignore[arg-type]
        denied = client.get("/v1/devices", headers={"Authorization": f"Bearer {token}"})
        assert (denied.status_code, denied.json()["code"]) == (401, "unauthenticated")


def test_bad_input_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    code, _, err = _run("token", "list", "--database-url", url)
    assert code == 1
    assert "fleetward collector migrate" in err
    _run("migrate", "--database-url", url)
    code, _, err = _run("enroll-secret", "create", "--expires-in", "thirty days", "--database-url", url)
    assert code == 1
    assert "ISO 8601" in err
    code, _, err = _run("token", "create", "--name", "x", "--role", "device", "--database-url", url)
    assert code == 1
    assert "auditor or admin" in err
    code, _, err = _run("token", "revoke", "tok_missing", "--database-url", url)
    assert code == 1
    assert "does not exist" in err


def test_the_cli_module_imports_no_server_stack() -> None:
    probe = "import sys, collector.cli; print(sorted(m for m in ('fastapi', 'sqlalchemy', 'uvicorn') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
