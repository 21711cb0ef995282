"""The system Chromium through playwright, for the report and dashboard tests.

Chromium comes from Debian (`scripts/ensure-chromium.sh`), never a downloaded build. Without it the
browser tests skip, and fail when CI is set.
"""

from __future__ import annotations

import atexit
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str | None:
    candidates = [os.environ.get("FLEETWARD_CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium"]
    return next((c for c in candidates if c and Path(c).exists()), None)


def artifact(name: str) -> Path:
    path = ARTIFACTS / name
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


_SHARED: dict[str, Any] = {}


def _shared_browser(executable: str) -> Any:
    """One playwright and one Chromium per test process: the report and dashboard test folders
    each declare the fixture, and playwright's sync API cannot run twice at once."""
    if "browser" not in _SHARED:
        from playwright.sync_api import sync_playwright

        playwright = sync_playwright().start()
        _SHARED["browser"] = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)

        def stop() -> None:
            _SHARED.pop("browser").close()
            playwright.stop()

        atexit.register(stop)
    return _SHARED["browser"]


@pytest.fixture(scope="session")
def browser() -> Any:
    executable = chromium_path()
    if executable is None:
        message = "Chromium not found: run scripts/ensure-chromium.sh or set FLEETWARD_CHROMIUM"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return _shared_browser(executable)
