"""Program runs under mocks are slow (~1 s per 25 resources), so share them per session."""

from __future__ import annotations

import pytest
from infra_support import EXAMPLE, FAR_FUTURE, run_with, small_raw

from infra import program
from infra.offline import OfflineRun, run_offline
from infra.stack_file import read_stack_file


@pytest.fixture(scope="session")
def example_run() -> OfflineRun:
    """The example stack file as committed, planned at an instant years after it was written."""
    stack = read_stack_file(EXAMPLE)
    return run_offline(lambda: program.run(now=FAR_FUTURE), stack.config, secret_keys=stack.secret_keys)


@pytest.fixture(scope="session")
def small_run() -> OfflineRun:
    return run_with(small_raw())
