"""The instant or period a dashboard page shows: `?at=`, or `?from=&to=`, defaulting to now.

The date picker sends `YYYY-MM-DD` (a day: for `at` and `to` the state at its end, the next
midnight UTC; for `from` its start) or
`YYYY-MM-DDTHH:MM` (UTC when no offset is given); any ISO 8601 instant is accepted too. A value that
does not parse, or a period that ends before it starts, is a problem shown on the page, and the page
falls back to now rather than failing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode


@dataclass(frozen=True)
class Shown:
    at: datetime | None  # an instant report
    period: tuple[datetime, datetime] | None  # or a period report
    problems: list[str] = field(default_factory=list)
    query: str = ""  # "?at=..." to carry the choice onto every link; "" for now

    @property
    def instant(self) -> datetime | None:
        return self.period[1] if self.period else self.at


def parse_shown(at: str, start: str, end: str, now: datetime) -> Shown:
    problems: list[str] = []
    if start or end:
        first, last = _parse(start, "from", problems, end_of_day=False), _parse(end, "to", problems)
        if first is None or last is None:
            if not problems:
                problems.append("A period needs both from and to.")
        elif last <= first:
            problems.append(f"The period ends ({last.isoformat()}) before it starts ({first.isoformat()}).")
        elif last > now:
            problems.append(f"The period ends after now ({now.isoformat()}): choose an end in the past.")
        else:
            return Shown(None, (first, last), [], "?" + urlencode({"from": start, "to": end}))
        return Shown(now, None, problems)
    if at:
        instant = _parse(at, "at", problems)
        if instant is not None and instant <= now:
            return Shown(instant, None, [], "?" + urlencode({"at": at}))
        if instant is not None:
            problems.append(f"{at!r} is in the future: the dashboard shows what is known, up to now.")
    return Shown(now, None, problems)


def _parse(text: str, name: str, problems: list[str], *, end_of_day: bool = True) -> datetime | None:
    if not text:
        return None
    try:
        if len(text) == 10:
            day = datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
            return day + timedelta(days=1) if end_of_day else day
        value = datetime.fromisoformat(text)
    except ValueError:
        problems.append(
            f"{name}={text!r} is not a date or an instant; write e.g. 2026-06-30 or 2026-06-30T12:00Z."
        )
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
