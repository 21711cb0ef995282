"""Signed reports: a doctored report whose digest and seal were recomputed fails against the
collector's public key, in every format; without a trusted key only integrity is claimed."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from collector.reports.build import build_report
from collector.reports.canonical import canonical_bytes, document_digest
from collector.reports.model import ComplianceReport
from collector.reports.seal import SEAL_PLACEHOLDER, SEAL_PREFIX, read_seal
from collector.reports.signing import SIGNATURE_PLACEHOLDER, ReportKeys, read_file_signature, render_signed
from collector.reports.verify import INTEGRITY_ONLY, verify_bytes
from fleetward.bundle.keys import SigningKey
from fleetward.cli import app
from tests.reports.factory import AT, DAY, mixed_fleet

FORMATS = ["json", "csv", "html", "pdf"]


@pytest.fixture(scope="module")
def report() -> ComplianceReport:
    return build_report(
        mixed_fleet(), at=AT, period=None, framework=None, generated_at=AT + DAY, source="test"
    )


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.generate()


def _doctor(data: bytes, fmt: str, hostname: str = "") -> bytes:
    """What a forger can do without the key: edit, then recompute the documented digest or seal."""
    if fmt == "json":
        document = json.loads(data)
        document["devices"][0]["hostname"] = "FORGED-HOST"
        document["digest"] = document_digest(document)
        return canonical_bytes(document)
    signature, blank = read_file_signature(data)
    assert signature is not None
    original = read_seal(blank)
    assert original is not None
    edited = blank.replace(SEAL_PREFIX + original[0].encode(), SEAL_PLACEHOLDER)
    if fmt == "pdf":  # the page text is compressed: edit the document information instead
        edited = edited.replace(b"/Author", b"/Author ", 1)
    else:
        assert hostname.encode() in edited
        edited = edited.replace(hostname.encode(), b"FORGED-HOST")
    resealed = edited.replace(SEAL_PLACEHOLDER, SEAL_PREFIX + hashlib.sha256(edited).hexdigest().encode())
    return resealed.replace(SIGNATURE_PLACEHOLDER, signature.token())


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_signed_report_verifies_against_the_collectors_key(
    report: ComplianceReport, key: SigningKey, fmt: str
) -> None:
    result = verify_bytes(render_signed(report, fmt, key), trusted=[key.public])
    assert result.ok, result.checks
    assert result.authenticity == f"authentic: signed by trusted key {key.public.key_id}"


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_doctored_report_with_recomputed_digest_and_seal_fails(
    report: ComplianceReport, key: SigningKey, fmt: str
) -> None:
    doctored = _doctor(render_signed(report, fmt, key), fmt, report.devices[0].hostname)
    integrity = verify_bytes(doctored)
    assert integrity.ok  # the documented digest and seal were recomputed: integrity alone cannot tell
    assert integrity.authenticity.startswith(INTEGRITY_ONLY)
    result = verify_bytes(doctored, trusted=[key.public])
    assert not result.ok
    failed = [c for c in result.checks if not c.ok]
    assert [c.name for c in failed] == ["signature"]
    assert "changed after it was signed" in failed[0].detail


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_unsigned_or_foreign_report_fails_against_a_trusted_key(
    report: ComplianceReport, key: SigningKey, fmt: str
) -> None:
    from collector.reports.render import renderer_for

    unsigned = verify_bytes(renderer_for(fmt).render(report), trusted=[key.public])
    assert not unsigned.ok
    assert "not signed" in unsigned.checks[-1].detail
    other = SigningKey.generate()
    foreign = verify_bytes(render_signed(report, fmt, other), trusted=[key.public])
    assert not foreign.ok
    assert "not one of the trusted keys" in foreign.checks[-1].detail


@pytest.mark.parametrize("fmt", ["csv", "html", "pdf"])
def test_a_signed_copy_checks_against_the_signed_json(
    report: ComplianceReport, key: SigningKey, fmt: str
) -> None:
    copy, source = render_signed(report, fmt, key), render_signed(report, "json", key)
    result = verify_bytes(copy, source, trusted=[key.public])
    assert result.ok, result.checks
    assert {c.name for c in result.checks} >= {"seal", "signature", "JSON report", "same report", "content"}


def test_the_key_file_is_owner_only_and_rotation_keeps_old_reports_verifiable(
    tmp_path: Path, report: ComplianceReport
) -> None:
    path = tmp_path / "keys" / "report-signing.pem"
    first = ReportKeys.load_or_create(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert ReportKeys.load_or_create(path).current.public == first.current.public  # kept across restarts
    old_report = render_signed(report, "html", first.current)
    rotated = ReportKeys.rotate(path)
    assert rotated.current.public != first.current.public
    assert rotated.retired == (first.current.public,)
    assert not list(tmp_path.glob("keys/*.retired-*.pem"))  # the old private key is gone
    assert verify_bytes(old_report, trusted=rotated.public_keys).ok


def test_report_verify_cli_checks_the_signature_with_key(
    tmp_path: Path, report: ComplianceReport, key: SigningKey
) -> None:
    signed = tmp_path / "report.json"
    signed.write_bytes(render_signed(report, "json", key))
    doctored = tmp_path / "doctored.json"
    doctored.write_bytes(_doctor(signed.read_bytes(), "json"))
    public = tmp_path / "collector.pub"
    public.write_text(key.public.text + "\n")
    runner = CliRunner()
    plain = runner.invoke(app, ["report", "verify", str(doctored)], env={"FLEETWARD_TRUSTED_REPORT_KEYS": ""})
    assert plain.exit_code == 0
    assert "integrity only, not authenticity" in plain.output
    good = runner.invoke(app, ["report", "verify", str(signed), "--key", str(public)])
    assert good.exit_code == 0, good.output
    assert f"authentic: signed by trusted key {key.public.key_id}" in good.output
    bad = runner.invoke(app, ["report", "verify", str(doctored), "--key", str(public)])
    assert bad.exit_code == 1
    assert "FAIL signature" in bad.output
