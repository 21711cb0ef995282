"""A bundle carries the catalogue's own files, so the loader and lint that check the repository
also check what a laptop runs. Unpacking refuses anything but plain relative YAML paths."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from fleetward.bundle.errors import BundleFormatError

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
