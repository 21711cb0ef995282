"""A bundle carries the catalogue's own files, so the loader and lint that check the repository
also check what a laptop runs. Unpacking refuses anything but plain relative YAML paths."""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from fleetward.bundle.errors import BundleFormatError

if TYPE_CHECKING:
    from datetime import datetime

    from fleetward.bundle.document import Bundle
    from fleetward.policy.catalogue import Catalogue

MAX_FILES = 2000
MAX_FILE_BYTES = 512 * 1024
_SUFFIXES = (".yaml", ".yml")


def pack_catalogue_files(directory: Path) -> dict[str, str]:
    """Every YAML file under the catalogue directory, keyed by its POSIX path relative to it."""
    files: dict[str, str] = {}
    for path in sorted(directory.rglob("*")):
        if path.is_file() and path.suffix in _SUFFIXES:
            files[path.relative_to(directory).as_posix()] = path.read_text("utf-8")
    return files


def check_file_map(files: object) -> dict[str, str]:
    if not isinstance(files, Mapping):
        raise BundleFormatError("bundle content has no `files` mapping")
    if len(files) > MAX_FILES:
        raise BundleFormatError(f"bundle holds {len(files)} files; at most {MAX_FILES} are accepted")
    checked: dict[str, str] = {}
    for name, text in files.items():
        if not isinstance(name, str) or not isinstance(text, str):
            raise BundleFormatError("bundle files must map text paths to text content")
        pure = PurePosixPath(name)
        if pure.is_absolute() or ".." in pure.parts or "\\" in name or pure.suffix not in _SUFFIXES:
            raise BundleFormatError(f"bundle file {name!r} is not a relative .yaml path inside the catalogue")
        if len(text.encode("utf-8")) > MAX_FILE_BYTES:
            raise BundleFormatError(f"bundle file {name!r} is larger than {MAX_FILE_BYTES} bytes")
        checked[name] = text
    return checked


def content_files(content: Mapping[str, object]) -> dict[str, str]:
    """The catalogue files a bundle's content carries, checked (BundleFormatError if unsafe)."""
    return check_file_map(content.get("files"))


def unpack_to(files: Mapping[str, str], target: Path) -> None:
    """Write the files into `target` atomically: a sibling temp dir renamed into place."""
    checked = check_file_map(files)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        for name, text in checked.items():
            path = staging.joinpath(*PurePosixPath(name).parts)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, "utf-8")
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def catalogue_from_files(files: Mapping[str, str]) -> Catalogue:
    """Load the catalogue a bundle carries with the same loader lint uses (PolicyLoadError if it
    does not load), through a scratch directory that is removed afterwards."""
    from fleetward.policy.catalogue import load_catalogue

    with tempfile.TemporaryDirectory(prefix="fleetward-bundle-") as scratch:
        target = Path(scratch) / "policies"
        unpack_to(files, target)
        return dataclasses.replace(load_catalogue(target), root=None)  # the scratch dir is gone


def bundle_directory(directory: Path, *, version: int, created_at: datetime) -> Bundle:
    """An unsigned bundle of the catalogue in `directory` (PolicyLoadError if it does not load).
    Lint it first: `fleetward policies bundle build` does."""
    from fleetward.bundle.document import build_bundle
    from fleetward.policy.catalogue import load_catalogue

    catalogue = load_catalogue(directory)
    return build_bundle(
        {"files": pack_catalogue_files(directory)},
        version=version,
        created_at=created_at,
        catalogue_digest=catalogue.digest,
        policy_versions=catalogue.versions(),
    )
