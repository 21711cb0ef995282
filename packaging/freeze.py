"""Freeze the laptop agent with its own Python runtime (PyInstaller, one-dir), for every OS package.

    python packaging/freeze.py [--out build/frozen]

Writes `<out>/fleetward-agent/` holding `fleetward-agent` (`fleetward-agent.exe` on Windows) and its
`_internal/` folder: the interpreter, the agent, its dependencies, the policy catalogue and the
recorded-device data (osquery schemas per release, extension tables, the sample devices). The packages (packaging/debian, packaging/macos, packaging/windows) copy that
folder as it is. Run it on the OS the package is for: PyInstaller does not cross-compile.

The catalogue goes where `fleetward.policy.catalogue.default_policies_dir` looks outside a checkout
(`fleetward/_catalogue/policies`, as in the wheel), so the frozen agent evaluates what it shipped with.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENTRY = ROOT / "packaging" / "pyinstaller" / "fleetward_agent.py"
NAME = "fleetward-agent"

# Data read at run time, as (source in the repository, folder inside the frozen app). The shared
# core's own data files (recorded-device schemas, extension tables, devices) come with
# `--collect-data fleetward`, wherever they move inside the package.
DATA = [("policies", "fleetward/_catalogue/policies")]
COLLECT_DATA = ["fleetward"]
# The server, infra and test side never run on a laptop; keeping them out keeps the package small.
EXCLUDED = [
    "collector",
    "infra",
    "tests",
    "bench",
    "fastapi",
    "starlette",
    "uvicorn",
    "sqlalchemy",
    "alembic",
    "psycopg",
    "matplotlib",
    "fpdf",
    "pulumi",
    "pulumi_azure_native",
    "pulumi_policy",
    "playwright",
    "hypothesis",
    "schemathesis",
    "pytest",
    "mypy",
    "tkinter",
    "_testcapi",
    "_testinternalcapi",
    "_testbuffer",
    "_testmultiphase",
    "_xxtestfuzz",
    # optional extras of libraries the agent uses, which it never needs
    "numpy",
    "PIL",
    "setuptools",
    "IPython",
]
# Imported by name at run time (not visible to PyInstaller's import scan).
HIDDEN = ["win32timezone"] if sys.platform == "win32" else []


def freeze(out: Path) -> Path:
    work = out / "work"
    command = [
        sys.executable,
        "-m",
        "PyInstaller",
        "--noconfirm",
        "--clean",
        "--onedir",
        "--console",
        "--log-level",
        "WARN",
        "--name",
        NAME,
        "--distpath",
        str(out),
        "--workpath",
        str(work),
        "--specpath",
        str(work),
        "--paths",
        str(ROOT),
    ]
    for source, target in DATA:
        command += ["--add-data", f"{ROOT / source}{os.pathsep}{target}"]
    for package in COLLECT_DATA:
        command += ["--collect-data", package]
    for module in EXCLUDED:
        command += ["--exclude-module", module]
    if sys.platform == "linux" and shutil.which("strip"):
        command.append("--strip")  # Debian ships no debug symbols in a binary package
    for module in HIDDEN:
        command += ["--hidden-import", module]
    command.append(str(ENTRY))
    shutil.rmtree(out / NAME, ignore_errors=True)
    subprocess.run(command, check=True, cwd=ROOT)
    shutil.rmtree(work, ignore_errors=True)
    return out / NAME


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "frozen")
    args = parser.parse_args()
    print(freeze(args.out.resolve()))


if __name__ == "__main__":
    main()
