"""Policy bundles through the collector's API, on SQLite and PostgreSQL: admins publish signed
bundles only, devices fetch the newest with ETag revalidation, auditors see every bundle and when
it was in force, and the registry learns the policies a bundle brings."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from collector.app import create_app
from collector.settings import CollectorSettings
from collector.store import Database
from collector.store.credentials import Role
from collector.store.history import load_history
from fleetward.bundle.document import Bundle, build_bundle
from fleetward.bundle.keys import SigningKey
from fleetward.clock import ManualClock
from tests.collector.support import Fleet, bearer
from tests.support.bundles import CREATED, add_november_floor, catalogue_copy, signed_bundle

NEW_POLICY = """\
id: screenlock-windows-on
title: Screen locks after inactivity
severity: medium
platforms: [windows]
rationale: An unlocked laptop left at home shows patient records to anyone passing.
remediation: Set the inactivity limit with Intune.
frameworks:
  dspt: ["8.3.1"]
grace: P1D
query: |
  SELECT name, (1) AS compliant FROM os_version
"""


@pytest.fixture(scope="module")
def team_key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return catalogue_copy(tmp_path_factory.mktemp("bundles") / "policies")


def publish(fleet: Fleet, bundle: Bundle | bytes, token: str | None = None):  # type: ignore[no-untyped-def]
    body = bundle if isinstance(bundle, bytes) else bundle.to_bytes()
    return fleet.client.post(
        "/v1/policies/bundle",
        content=body,
        headers={**bearer(token or fleet.admin), "Content-Type": "application/json"},
    )


def test_a_published_bundle_is_served_byte_for_byte_with_a_strong_etag(
    fleet: Fleet, catalogue: Path, team_key: SigningKey
) -> None:
    bundle = signed_bundle(catalogue, 20261114120000, team_key)
    created = publish(fleet, bundle)
    assert created.status_code == 201, created.text
    assert created.json()["digest"] == bundle.digest
    assert "does not vouch" in created.json()["note"]  # no trusted keys configured here

    device = fleet.enroll()
    served = fleet.client.get("/v1/policies/bundle", headers=bearer(device.key))
    assert served.status_code == 200
    assert served.content == bundle.to_bytes()
    assert served.headers["etag"] == f'"{bundle.digest}"'

    unchanged = fleet.client.get(
        "/v1/policies/bundle", headers={**bearer(device.key), "If-None-Match": served.headers["etag"]}
    )
    assert unchanged.status_code == 304
    assert unchanged.content == b""

    newer = signed_bundle(catalogue, 20261114120001, team_key)
    assert publish(fleet, newer).status_code == 201
    changed = fleet.client.get(
        "/v1/policies/bundle", headers={**bearer(device.key), "If-None-Match": served.headers["etag"]}
    )
    assert changed.status_code == 200
    assert changed.content == newer.to_bytes()


def test_unsigned_tampered_and_malformed_bundles_are_refused_with_stable_codes(
    fleet: Fleet, catalogue: Path, team_key: SigningKey
) -> None:
    unsigned = publish(fleet, signed_bundle(catalogue, 5))
    assert unsigned.status_code == 422
    assert unsigned.json()["code"] == "bundle_unsigned"

    good = signed_bundle(catalogue, 5, team_key).to_bytes()
    tampered = publish(fleet, good.replace(b"protection_status", b"protection_statuz", 1))
    assert tampered.status_code == 422
    assert tampered.json()["code"] == "bundle_digest_mismatch"

    truncated = publish(fleet, good[: len(good) // 2])
    assert truncated.status_code == 422
    assert truncated.json()["code"] == "invalid_request"

    content = json.loads(good)["content"]
    content["files"]["../escape.yaml"] = "id: x\n"
    hostile = build_bundle(content, version=5, created_at=CREATED).signed_by(team_key)
    refused = publish(fleet, hostile)
    assert refused.status_code == 422
    assert refused.json()["code"] == "bundle_invalid"
    assert "../escape.yaml" in refused.json()["message"]

    fetch = fleet.client.get("/v1/policies/bundle", headers=bearer(fleet.admin))
    assert fetch.status_code == 404
    assert fetch.json()["code"] == "no_bundle"


def test_only_newer_bundles_are_accepted_and_republishing_is_harmless(
    fleet: Fleet, catalogue: Path, team_key: SigningKey
) -> None:
    first = signed_bundle(catalogue, 100, team_key)
    assert publish(fleet, first).status_code == 201
    again = publish(fleet, first)
    assert again.status_code == 200
    assert "already published" in again.json()["note"]

    for version in (100, 99):
        stale = publish(
            fleet,
            signed_bundle(
                catalogue, version, team_key, created_at=first.manifest.created_at + timedelta(hours=1)
            ),
        )
        assert stale.status_code == 409
        assert stale.json()["code"] == "bundle_not_newer"
        assert stale.json()["detail"] == {"newest_version": 100}


def test_publishing_needs_an_admin_and_reading_needs_a_credential(
    fleet: Fleet, catalogue: Path, team_key: SigningKey
) -> None:
    bundle = signed_bundle(catalogue, 7, team_key)
    auditor = fleet.token(Role.AUDITOR, "auditor")
    device = fleet.enroll()
    assert publish(fleet, bundle, auditor).status_code == 403
    assert publish(fleet, bundle, device.key).status_code == 403
    assert fleet.client.post("/v1/policies/bundle", content=bundle.to_bytes()).status_code == 401
    assert publish(fleet, bundle).status_code == 201
    assert fleet.client.get("/v1/policies/bundle").status_code == 401
    assert fleet.client.get("/v1/policies/bundle", headers=bearer(auditor)).status_code == 200
    assert fleet.client.get("/v1/policies/bundles", headers=bearer(device.key)).status_code == 403


def test_auditors_see_every_bundle_and_when_it_was_in_force(
    fleet: Fleet, db: Database, catalogue: Path, team_key: SigningKey
) -> None:
    october = signed_bundle(catalogue, 20261014000000, team_key)
    assert publish(fleet, october).status_code == 201
    october_at = fleet.clock.now()
    fleet.clock.advance(timedelta(days=31))
    november = signed_bundle(catalogue, 20261114000000, team_key)
    assert publish(fleet, november).status_code == 201

    listed = fleet.client.get("/v1/policies/bundles", headers=bearer(fleet.token(Role.AUDITOR))).json()
    assert [b["version"] for b in listed] == [20261014000000, 20261114000000]
    assert listed[0]["in_force_until"] == listed[1]["published_at"]
    assert listed[1]["in_force_until"] is None
    assert listed[0]["signer_key_ids"] == [team_key.public.key_id]

    history = load_history(db.engine, with_evidence=False)
    assert [(b.version, b.digest, b.published_at) for b in history.bundles] == [
        (20261014000000, october.digest, october_at),
        (20261114000000, november.digest, fleet.clock.now()),
    ]


def test_a_bundle_registers_its_new_policies_and_survives_a_restart(
    fleet: Fleet,
    settings: CollectorSettings,
    clock: ManualClock,
    tmp_path: Path,
    team_key: SigningKey,
) -> None:
    catalogue = catalogue_copy(tmp_path / "policies")
    add_november_floor(catalogue)
    (catalogue / "screenlock-windows-on.yaml").write_text(NEW_POLICY)
    assert publish(fleet, signed_bundle(catalogue, 42, team_key)).status_code == 201

    def registry(client: TestClient) -> dict[str, dict[str, object]]:
        policies = client.get("/v1/policies", headers=bearer(fleet.admin)).json()
        return {p["id"]: p for p in policies}

    known = registry(fleet.client)
    assert known["screenlock-windows-on"]["title"] == "Screen locks after inactivity"
    assert known["screenlock-windows-on"]["frameworks"] == {"dspt": ["8.3.1"]}
    with TestClient(create_app(settings, clock=clock)) as restarted:
        assert registry(restarted)["screenlock-windows-on"]["title"] == "Screen locks after inactivity"


@pytest.fixture
def vouching_client(database_url: str, clock: ManualClock, team_key: SigningKey) -> Iterator[TestClient]:
    settings = CollectorSettings(database_url=database_url, trusted_bundle_keys=team_key.public.text)  # type: ignore[arg-type]
    with TestClient(create_app(settings, clock=clock), raise_server_exceptions=False) as client:
        yield client


def test_a_collector_with_trusted_keys_refuses_other_signers(
    vouching_client: TestClient, db: Database, clock: ManualClock, catalogue: Path, team_key: SigningKey
) -> None:
    fleet = Fleet(vouching_client, db, clock)
    stranger = publish(fleet, signed_bundle(catalogue, 8, SigningKey.generate()))
    assert stranger.status_code == 422
    assert stranger.json()["code"] == "bundle_signature_invalid"
    vouched = publish(fleet, signed_bundle(catalogue, 8, team_key))
    assert vouched.status_code == 201
    assert vouched.json()["vouched_by"] == team_key.public.key_id
    assert vouched.json()["note"] is None


def test_a_bad_trusted_key_setting_is_named() -> None:
    with pytest.raises(ValueError, match="trusted_bundle_keys"):
        CollectorSettings(trusted_bundle_keys="not-a-key")  # type: ignore[arg-type]
