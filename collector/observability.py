"""Structured JSON logs and Prometheus metrics of one collector process.

Logs carry who (token id or device id), what (method, route) and how it went; never a header,
a body, a token, a device key or an enroll secret. Tracebacks keep their frames (file, line,
code) but the message of an exception that may quote request data (a validation error quotes the
input, a database error the driver's detail) is replaced by its type: SQL parameters are hidden
at the engine too (`hide_parameters`). Each app gets its own metrics registry so several apps in
one process (tests, the simulator) do not collide.
"""

from __future__ import annotations

import json
import logging
import traceback
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

LOGGER_NAME = "fleetward.collector"
_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the record's `extra` fields."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat().replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str, ensure_ascii=False)

    def formatException(self, ei: Any) -> str:
        return format_exception_safely(ei[1]) if ei[1] is not None else super().formatException(ei)


# Exceptions whose message the collector wrote itself, naming no request data.
_OWN_MESSAGES = ("collector.", "fleetward.", "agent.")
_WITHHELD = "(message withheld from the log: it may quote request data)"


def format_exception_safely(exc: BaseException) -> str:
    """A traceback with every frame, each exception's type, and only our own errors' messages."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    parts: list[str] = []
    for index, error in enumerate(reversed(chain)):
        if index:
            parts.append("\nThe above exception led to the following exception:\n\n")
        parts.append("Traceback (most recent call last):\n")
        parts.extend(traceback.format_list(traceback.extract_tb(error.__traceback__)))
        kind = type(error)
        own = kind.__module__.startswith(_OWN_MESSAGES)
        parts.append(f"{kind.__module__}.{kind.__qualname__}: {str(error) if own else _WITHHELD}\n")
    return "".join(parts).rstrip("\n")


def configure_logging(level: str = "INFO") -> None:
    """Send the collector's and uvicorn's logs as JSON lines to stderr (called by `serve`)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    for name in (LOGGER_NAME, "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level.upper())
        logger.propagate = False


def logger() -> logging.Logger:
    return logging.getLogger(LOGGER_NAME)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.reports_ingested = Counter(
            "fleetward_reports_ingested", "Reports ingested (new report ids)", registry=self.registry
        )
        self.reports_duplicate = Counter(
            "fleetward_reports_duplicate",
            "Reports received again and acknowledged unchanged",
            registry=self.registry,
        )
        self.transitions = Counter(
            "fleetward_transitions", "(device, policy) status changes recorded", registry=self.registry
        )
        self.results_refused = Counter(
            "fleetward_results_refused",
            "Results refused because no catalogue policy or bundle defines their policy",
            registry=self.registry,
        )
        self.enrollments = Counter(
            "fleetward_enrollments", "Successful enrollments", ["reenrolled"], registry=self.registry
        )
        self.request_seconds = Histogram(
            "fleetward_request_duration_seconds",
            "HTTP request latency",
            ["method", "route", "status"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
        )
