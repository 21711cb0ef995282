"""Validated scalar types for values that cross a trust boundary (a device, a query string).

- `SAFE_TEXT`: the check that a string has no NUL character or lone surrogate, placed after its
  length bound: `Annotated[str, StringConstraints(max_length=200), SAFE_TEXT]`. PostgreSQL refuses NUL in text and JSON, and a lone surrogate cannot be encoded as UTF-8, so either one
  stored would fail every later read; they are refused at the door instead.
- `Instant`: an aware datetime between 1970 and 9000, converted to UTC (so no later arithmetic on
  it can overflow, whatever offset it came with).
- `VERSION_PATTERN`: a policy version as the catalogue writes it (a content digest) or a short label.

Pydantic only, no server dependency: the agent imports this too.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
# The largest bundle version: the default scheme's (YYYYMMDDhhmmss) last instant, far below 2^63.
MAX_BUNDLE_VERSION = 99_991_231_235_959

_UNSAFE = re.compile("[\x00\ud800-\udfff]")


def _safe_text(value: str | None) -> str | None:
    if value is None:  # on an optional field
        return None
    found = _UNSAFE.search(value)
    if found is not None:
        what = "a NUL character" if found.group() == "\x00" else "a lone surrogate (not valid Unicode)"
        raise ValueError(f"text contains {what} at position {found.start()}; send valid UTF-8 text")
    return value


def clean_text(value: str) -> str:
    """Text as stored before these checks existed, made safe to render: NUL and lone surrogates
    become U+FFFD (the replacement character), so a reader sees that something was there."""
    return _UNSAFE.sub("\ufffd", value) if _UNSAFE.search(value) else value


SAFE_TEXT = AfterValidator(_safe_text)
SafeText = Annotated[str, SAFE_TEXT]


def _in_range(value: datetime) -> datetime:
    # Compared before converting: converting year 1 or 9999 with an offset is what overflows.
    if not EARLIEST <= value < LATEST:
        raise ValueError(f"instant must be between {EARLIEST.year} and {LATEST.year} (UTC)")
    return value.astimezone(UTC)


Instant = Annotated[AwareDatetime, AfterValidator(_in_range)]

VERSION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:+-]{0,63}$"
