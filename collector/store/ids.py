"""Where the store's identifiers come from: random by default, seeded for a reproducible run.

Identifiers (device ids, token, secret and waiver ids) are not secrets; credentials are, and stay
`secrets.token_urlsafe` whatever the source. A seeded source exists so the demo gives the same
report, byte for byte, from the same seed (device ids are in every report). The source travels
with the `Database`, into each session's `info`, so store functions need no extra argument.
"""

from __future__ import annotations

import random
import uuid
from typing import Protocol

from sqlalchemy.orm import Session

SESSION_KEY = "fleetward.ids"


class IdSource(Protocol):
    def uuid(self) -> uuid.UUID: ...


class RandomIds:
    def uuid(self) -> uuid.UUID:
        return uuid.uuid4()


class SeededIds:
    """The same sequence of UUIDs for the same seed (version 4 layout, from random.Random)."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(f"fleetward-ids-{seed}")

    def uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self._rng.getrandbits(128), version=4)


def ids_of(session: Session) -> IdSource:
    source = session.info.get(SESSION_KEY)
    return source if source is not None else RandomIds()
