"""Program runs under mocks are slow (~1 s per 25 resources), so share them per session."""

from __future__ import annotations

import pytest
from infra_support import EXAMPLE, NOW, run_with, small_raw

from infra import program
from infra.offline import OfflineRun, run_offline
from infra.stack_file import read_stack_file


@pytest.fixture(scope="session")
def example_run() -> OfflineRun:
    stack = read_stack_file(EXAMPLE)
    return run_offline(lambda: program.run(now=NOW), stack.config, secret_keys=stack.secret_keys)


@pytest.fixture(scope="session")
def small_run() -> OfflineRun:
    return run_with(small_raw())
