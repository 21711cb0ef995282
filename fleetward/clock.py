"""The clock as an injected dependency: pure code takes instants, adapters read the clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """An aware UTC datetime."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to: simulations and tests."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime (UTC)")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now

    def set(self, instant: datetime) -> None:
        self._now = instant.astimezone(UTC)


def ensure_utc(instant: datetime) -> datetime:
    """Naive datetimes are rejected rather than guessed: an audit trail needs real instants."""
    if instant.tzinfo is None:
        raise ValueError(
            f"{instant.isoformat()} has no time zone; give an ISO 8601 instant with Z or an offset"
        )
    return instant.astimezone(UTC)
