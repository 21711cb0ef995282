"""`fleetward policies bundle build|sign|verify` through the real CLI root, with their exit statuses."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fleetward.bundle.document import parse_bundle, verify_bundle
from fleetward.bundle.files import content_files
from fleetward.bundle.keys import SigningKey
from fleetward.cli import app
from fleetward.policy.catalogue import default_policies_dir, load_catalogue

runner = CliRunner()
BROKEN = Path(__file__).parents[1] / "data" / "broken_policies"


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "team.pem"
    SigningKey.generate().write(path)
    return path


def build(tmp_path: Path, *extra: str) -> Path:
    out = tmp_path / "bundle.json"
    result = runner.invoke(app, ["policies", "bundle", "build", "--out", str(out), *extra])
    assert result.exit_code == 0, result.output
    return out


def test_build_packs_the_linted_catalogue_with_its_policy_versions(tmp_path: Path) -> None:
    bundle = parse_bundle(build(tmp_path, "--version", "7").read_bytes())
    catalogue = load_catalogue()
    assert bundle.version == 7
    assert bundle.manifest.catalogue_digest == catalogue.digest
    assert bundle.manifest.policy_versions == catalogue.versions()
    files = content_files(bundle.content)
    assert "baselines/windows.yaml" in files
    assert "frameworks/dspt.yaml" in files
    assert bundle.signatures == []


def test_build_refuses_a_catalogue_with_lint_problems_and_writes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "policies"
    shutil.copytree(default_policies_dir(), root)
    shutil.copy(BROKEN / "unknown-column.yaml", root)
    out = tmp_path / "bundle.json"
    result = runner.invoke(app, ["policies", "bundle", "build", "--policies", str(root), "--out", str(out)])
    assert result.exit_code == 1
    assert "unknown-column.yaml" in result.output
    assert "no bundle was built" in result.output
    assert not out.exists()


def test_build_refuses_a_version_that_does_not_move_forward(tmp_path: Path) -> None:
    previous = build(tmp_path, "--version", "20261101000000")
    result = runner.invoke(
        app,
        [
            "policies",
            "bundle",
            "build",
            "--version",
            "20261101000000",
            "--previous",
            str(previous),
            "--out",
            str(tmp_path / "next.json"),
        ],
    )
    assert result.exit_code == 1
    assert "not newer" in result.output
    assert "20261101000001" in result.output


def test_sign_twice_with_two_keys_and_verify_with_either(tmp_path: Path, key_file: Path) -> None:
    out = build(tmp_path)
    new_key = tmp_path / "new.pem"
    SigningKey.generate().write(new_key)
    for key in (key_file, new_key):
        result = runner.invoke(app, ["policies", "bundle", "sign", "--key", str(key), str(out)])
        assert result.exit_code == 0, result.output
    bundle = parse_bundle(out.read_bytes())
    old_public, new_public = SigningKey.read(key_file).public, SigningKey.read(new_key).public
    assert {s.key_id for s in bundle.signatures} == {old_public.key_id, new_public.key_id}
    assert verify_bundle(bundle, [new_public]) == new_public

    (tmp_path / "new.pub").write_text(new_public.text + "\n")
    result = runner.invoke(
        app, ["policies", "bundle", "verify", "--trusted-key", str(tmp_path / "new.pub"), str(out)]
    )
    assert result.exit_code == 0, result.output
    assert f"signed by trusted key {new_public.key_id}" in result.output


def test_verify_refuses_untrusted_tampered_and_stale_bundles(tmp_path: Path, key_file: Path) -> None:
    out = build(tmp_path, "--version", "10")
    runner.invoke(app, ["policies", "bundle", "sign", "--key", str(key_file), str(out)])
    trusted = SigningKey.read(key_file).public.text
    stranger = SigningKey.generate().public.text

    untrusted = runner.invoke(app, ["policies", "bundle", "verify", "--trusted-key", stranger, str(out)])
    assert untrusted.exit_code == 1
    assert "none of the trusted keys" in untrusted.output

    stale = runner.invoke(
        app, ["policies", "bundle", "verify", "--trusted-key", trusted, "--newer-than", "10", str(out)]
    )
    assert stale.exit_code == 1
    assert "not newer" in stale.output

    tampered = tmp_path / "tampered.json"
    tampered.write_bytes(out.read_bytes().replace(b"protection_status", b"protection_statuz", 1))
    result = runner.invoke(app, ["policies", "bundle", "verify", "--trusted-key", trusted, str(tampered)])
    assert result.exit_code == 1
    assert "altered" in result.output

    truncated = tmp_path / "truncated.json"
    truncated.write_bytes(out.read_bytes()[:-100])
    result = runner.invoke(app, ["policies", "bundle", "verify", "--trusted-key", trusted, str(truncated)])
    assert result.exit_code == 1
    assert "truncated" in result.output


def test_sign_refuses_an_altered_bundle_and_a_missing_key(tmp_path: Path, key_file: Path) -> None:
    out = build(tmp_path)
    document = json.loads(out.read_bytes())
    document["content"]["files"]["extra.yaml"] = "id: extra\n"
    out.write_text(json.dumps(document))
    result = runner.invoke(app, ["policies", "bundle", "sign", "--key", str(key_file), str(out)])
    assert result.exit_code == 1
    assert "build it again" in result.output

    fresh = build(tmp_path)
    result = runner.invoke(
        app, ["policies", "bundle", "sign", "--key", str(tmp_path / "nope.pem"), str(fresh)]
    )
    assert result.exit_code == 2
    assert "cannot read signing key" in result.output


def test_verify_names_a_bad_trusted_key(tmp_path: Path) -> None:
    out = build(tmp_path)
    result = runner.invoke(app, ["policies", "bundle", "verify", "--trusted-key", "not-a-key", str(out)])
    assert result.exit_code == 2
    assert "--trusted-key" in result.output
