"""ASGI entry point for uvicorn workers: `uvicorn --factory collector.asgi:app_factory`.

Settings come from the environment (`FLEETWARD_*`) here, at call time, never at import time.
"""

from __future__ import annotations

from fastapi import FastAPI

from collector.app import create_app
from collector.observability import configure_logging
from collector.settings import CollectorSettings


def app_factory() -> FastAPI:
    settings = CollectorSettings()
    configure_logging(settings.log_level)
    return create_app(settings)
