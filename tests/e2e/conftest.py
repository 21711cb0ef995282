"""The real collector process the end-to-end agent tests run against (a test module may override it
with its own settings, as the kill test does)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agent.collector_process import CollectorProcess


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[CollectorProcess]:
    process = CollectorProcess(tmp_path).start()
    yield process
    process.stop()
