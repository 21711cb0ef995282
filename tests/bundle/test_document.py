"""Bundles are refused when tampered, truncated, replayed or signed by an unknown key."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from fleetward.bundle.document import build_bundle, parse_bundle, verify_bundle, version_from_instant
from fleetward.bundle.errors import (
    BundleDigestError,
    BundleFormatError,
    BundleReplayError,
    BundleSignatureError,
    KeyFileError,
)
from fleetward.bundle.keys import PublicKey, SigningKey

CREATED = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
CONTENT = {"policies": [{"id": "patch-windows", "query": "SELECT 1 AS compliant"}], "baselines": {}}


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.generate()


def signed(key: SigningKey, version: int = 20261121090000) -> bytes:
    return build_bundle(CONTENT, version=version, created_at=CREATED).signed_by(key).to_bytes()


def test_a_signed_bundle_round_trips_and_names_its_key(key: SigningKey) -> None:
    bundle = parse_bundle(signed(key))
    assert verify_bundle(bundle, [key.public]) == key.public
    assert bundle.content == CONTENT


def test_one_changed_byte_in_the_content_is_refused(key: SigningKey) -> None:
    data = signed(key).replace(b"SELECT 1", b"SELECT 2")
    with pytest.raises(BundleDigestError, match="altered"):
        verify_bundle(parse_bundle(data), [key.public])


def test_a_changed_manifest_breaks_the_signature(key: SigningKey) -> None:
    data = signed(key).replace(b"20261121090000", b"20261121090001")
    with pytest.raises(BundleSignatureError):
        verify_bundle(parse_bundle(data), [key.public])


def test_every_truncation_is_refused_as_not_a_bundle(key: SigningKey) -> None:
    data = signed(key)
    for cut in range(0, len(data), max(1, len(data) // 40)):
        with pytest.raises(BundleFormatError):
            parse_bundle(data[:cut])


def test_a_bundle_signed_by_an_untrusted_key_is_refused(key: SigningKey) -> None:
    stranger = SigningKey.generate()
    with pytest.raises(BundleSignatureError, match="none of the trusted keys"):
        verify_bundle(parse_bundle(signed(stranger)), [key.public])


def test_an_older_or_equal_bundle_is_a_replay(key: SigningKey) -> None:
    bundle = parse_bundle(signed(key, version=5))
    with pytest.raises(BundleReplayError):
        verify_bundle(bundle, [key.public], newer_than=5)
    assert verify_bundle(bundle, [key.public], newer_than=4) == key.public


def test_rotation_trusts_old_and_new_keys_during_the_overlap(key: SigningKey) -> None:
    new_key = SigningKey.generate()
    both = build_bundle(CONTENT, version=7, created_at=CREATED).signed_by(key).signed_by(new_key)
    reparsed = parse_bundle(both.to_bytes())
    assert verify_bundle(reparsed, [key.public]) == key.public
    assert verify_bundle(reparsed, [new_key.public]) == new_key.public


def test_private_key_files_are_owner_only_and_never_overwritten(tmp_path: Path, key: SigningKey) -> None:
    path = tmp_path / "bundle.key"
    key.write(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert SigningKey.read(path).public == key.public
    with pytest.raises(KeyFileError, match="refusing to overwrite"):
        key.write(path)


def test_public_keys_must_be_32_bytes_of_base64() -> None:
    with pytest.raises(KeyFileError, match="32"):
        PublicKey.from_text("c2hvcnQ=")
    with pytest.raises(KeyFileError, match="base64"):
        PublicKey.from_text("not base64!")


def test_default_versions_follow_the_creation_instant() -> None:
    assert version_from_instant(CREATED) == 20261121090000
