"""The laptop's policy bundles on disk: the last good one, and a newer one only once it verifies.

    <state_dir>/bundles/
        active                    the version in use, one line; switched with os.replace
        <version>/bundle.json     the signed document exactly as it arrived
        <version>/policies/       its catalogue files, loaded with the same loader lint uses

Installing writes the new version's directory completely, loads its catalogue, and only then
replaces the `active` pointer, so a crash at any point leaves either the old bundle or the new one
in force, never half of one. Reading the active bundle at start-up verifies it again (signature
against today's trusted keys, digest, files on disk equal to the signed files), so SQL edited on
disk or signed by a key since retired is never run. The previous version is kept beside the
active one; anything older is removed.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from agent.store import ensure_private_dir
from fleetward.bundle.document import parse_bundle, verify_bundle
from fleetward.bundle.errors import BundleFormatError
from fleetward.bundle.files import content_files, pack_catalogue_files, unpack_to
from fleetward.bundle.keys import PublicKey
from fleetward.policy.catalogue import Catalogue, load_catalogue

BUNDLES_DIR = "bundles"
ACTIVE_POINTER = "active"
DOCUMENT = "bundle.json"
POLICIES = "policies"


@dataclass(frozen=True)
class ActiveBundle:
    version: int
    digest: str
    signed_by: str  # the trusted key id that verified it
    catalogue: Catalogue


class BundleStore:
    """Raises fleetward.bundle.errors.BundleError (or PolicyLoadError) when a bundle is not good
    enough to run; OSError only when the state directory itself cannot be used."""

    def __init__(self, state_dir: Path, trusted: Sequence[PublicKey]) -> None:
        self.root = state_dir / BUNDLES_DIR
        self.trusted = tuple(trusted)

    def active_version(self) -> int | None:
        try:
            text = (self.root / ACTIVE_POINTER).read_text("ascii").strip()
        except FileNotFoundError:
            return None
        if not text.isdigit():
            raise BundleFormatError(f"{self.root / ACTIVE_POINTER} does not hold a bundle version: {text!r}")
        return int(text)

    def load_active(self) -> ActiveBundle | None:
        """The bundle in force, verified again; None when none was ever installed."""
        version = self.active_version()
        if version is None:
            return None
        directory = self.root / str(version)
        try:
            data = (directory / DOCUMENT).read_bytes()
        except FileNotFoundError as exc:
            raise BundleFormatError(
                f"the active bundle {version} is missing its {DOCUMENT} in {directory}"
            ) from exc
        bundle = parse_bundle(data)
        if bundle.version != version:
            raise BundleFormatError(f"{directory / DOCUMENT} holds bundle {bundle.version}, not {version}")
        key = verify_bundle(bundle, self.trusted)
        files = content_files(bundle.content)
        policies = directory / POLICIES
        if not policies.is_dir() or pack_catalogue_files(policies) != files:
            unpack_to(files, policies)  # edited or damaged on disk: restore what was signed
        return ActiveBundle(version, bundle.digest, key.key_id, load_catalogue(policies))

    def install(self, data: bytes) -> ActiveBundle:
        """Verify a received bundle (newer than the active one), unpack it, load it, switch to it."""
        bundle = parse_bundle(data)
        key = verify_bundle(bundle, self.trusted, newer_than=self.current_version())
        files = content_files(bundle.content)
        directory = self.root / str(bundle.version)
        ensure_private_dir(self.root)
        if directory.exists():
            shutil.rmtree(directory)  # a half-written attempt at this version, never the active one
        try:
            unpack_to(files, directory / POLICIES)
            catalogue = load_catalogue(directory / POLICIES)
            _write_atomically(directory / DOCUMENT, bundle.to_bytes())
        except BaseException:
            shutil.rmtree(directory, ignore_errors=True)
            raise
        previous = self.current_version()
        _write_atomically(self.root / ACTIVE_POINTER, f"{bundle.version}\n".encode("ascii"))
        self._prune(keep={bundle.version, previous})
        return ActiveBundle(bundle.version, bundle.digest, key.key_id, catalogue)

    def current_version(self) -> int | None:
        """The active version, or None if there is none or its pointer is damaged."""
        try:
            return self.active_version()
        except BundleFormatError:
            return None  # a damaged pointer: any verified bundle may replace it

    def _prune(self, keep: set[int | None]) -> None:
        for child in self.root.iterdir():
            if child.is_dir() and child.name.isdigit() and int(child.name) not in keep:
                shutil.rmtree(child, ignore_errors=True)


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
