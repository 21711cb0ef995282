"""What `fleetward-agent status` shows, kept as small facts in the agent's database.

Written by the service as it works (last evaluation, last delivery, last failure), read by the
`status` command from another process: both open the same SQLite file (WAL lets them share it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agent.outbox import COMPACTIONS, LAST_COMPACTION, LAST_DEAD_LETTER, Outbox
from agent.store import Database

LAST_EVALUATION = "evaluation.last"
LAST_DELIVERY = "delivery.last_success"
LAST_FAILURE = "delivery.last_failure"


class StatusBook:
    def __init__(self, db: Database) -> None:
        self._db = db

    def record_evaluation(
        self,
        at: datetime,
        counts: dict[str, int],
        platform: str,
        transitions: int,
        baselines: list[dict[str, Any]] | None = None,
    ) -> None:
        """`baselines`: each baseline's provenance and freshness at `at` (Provenance.as_dict)."""
        self._put(
            LAST_EVALUATION,
            {
                "at": at.isoformat(),
                "counts": counts,
                "platform": platform,
                "transitions": transitions,
                "baselines": baselines or [],
            },
        )

    def record_delivery(self, at: datetime, delivered: int) -> None:
        self._put(LAST_DELIVERY, {"at": at.isoformat(), "delivered": delivered})
        self._db.set_meta(LAST_FAILURE, "null")

    def record_failure(self, at: datetime, message: str, retry_at: datetime | None) -> None:
        self._put(
            LAST_FAILURE,
            {
                "at": at.isoformat(),
                "message": message[:500],
                "retry_at": retry_at.isoformat() if retry_at else None,
            },
        )

    def get(self, key: str) -> Any:
        raw = self._db.get_meta(key)
        return json.loads(raw) if raw else None

    def _put(self, key: str, value: dict[str, Any]) -> None:
        self._db.set_meta(key, json.dumps(value))


@dataclass(frozen=True)
class AgentStatus:
    enrolled: bool
    device_id: str | None
    collector_url: str | None
    last_evaluation: dict[str, Any] | None
    last_delivery: dict[str, Any] | None
    last_failure: dict[str, Any] | None
    outbox_depth: int
    outbox_bytes: int
    dead_letters: int
    last_dead_letter: dict[str, Any] | None
    compactions: int
    last_compaction: dict[str, Any] | None
    baselines: list[dict[str, Any]]  # provenance and freshness at the last evaluation

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def read_status(
    db: Database, outbox: Outbox, *, device_id: str | None, collector_url: str | None
) -> AgentStatus:
    book = StatusBook(db)
    evaluation = book.get(LAST_EVALUATION)
    return AgentStatus(
        enrolled=device_id is not None,
        device_id=device_id,
        collector_url=collector_url,
        last_evaluation=evaluation,
        last_delivery=book.get(LAST_DELIVERY),
        last_failure=book.get(LAST_FAILURE),
        outbox_depth=outbox.depth(),
        outbox_bytes=outbox.size_bytes(),
        dead_letters=outbox.dead_letters(),
        last_dead_letter=book.get(LAST_DEAD_LETTER),
        compactions=int(db.get_meta(COMPACTIONS) or "0"),
        last_compaction=book.get(LAST_COMPACTION),
        baselines=list(evaluation.get("baselines", [])) if isinstance(evaluation, dict) else [],
    )
