"""What `fleetward-agent status` shows, kept as small facts in the agent's database.

Written by the service as it works (last evaluation, last delivery, last failure), read by the
`status` command from another process: both open the same SQLite file (WAL lets them share it).
`status` only reads: it opens the database read-only and never creates it or the state directory.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from agent.outbox import COMPACTIONS, LAST_COMPACTION, LAST_DEAD_LETTER, Outbox
from agent.store import Database
from fleetward import __version__
from fleetward.clock import SystemClock

if TYPE_CHECKING:
    from agent.settings import AgentSettings

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
    agent_version: str
    state_database: str  # its path, or that it does not exist yet
    enrolled: bool
    device_id: str | None
    collector_url: str | None
    active_bundle: str
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

    def as_text(self) -> str:
        """Plain lines for a person: `name: value`, nested facts as `key value` pairs, then one line
        per baseline (and its warning when it is due or stale)."""
        lines = []
        for name, value in self.as_dict().items():
            if name == "baselines":
                continue
            if name == "last_evaluation" and isinstance(value, dict):
                value = {k: v for k, v in value.items() if k != "baselines"}
            lines.append(f"{name.replace('_', ' ')}: {_plain(value)}")
        for row in self.baselines:
            lines.append(
                f"baseline {row.get('baseline')}: refreshed {row.get('refreshed')}, newest floor "
                f"{row.get('newest_floor') or 'none'}: {row.get('state')}"
            )
            if row.get("state") in ("due", "stale"):
                lines.append(f"  {row.get('message')}")
        return "\n".join(lines)


def _plain(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        parts = [f"{key.replace('_', ' ')} {_plain(item)}" for key, item in value.items() if item is not None]
        return ", ".join(parts) or "-"
    return str(value)


def read_status(
    db: Database | None,
    *,
    version: str,
    device_id: str | None,
    collector_url: str | None,
    active_bundle: str,
    database_path: str,
) -> AgentStatus:
    """What `status` shows. `db` is None before the service first ran: nothing to read, nothing created."""
    if db is None:
        return AgentStatus(
            agent_version=version,
            state_database=f"{database_path} (not created yet: the service has not run)",
            enrolled=device_id is not None,
            device_id=device_id,
            collector_url=collector_url,
            active_bundle=active_bundle,
            last_evaluation=None,
            last_delivery=None,
            last_failure=None,
            outbox_depth=0,
            outbox_bytes=0,
            dead_letters=0,
            last_dead_letter=None,
            compactions=0,
            last_compaction=None,
            baselines=[],
        )
    book = StatusBook(db)
    outbox = Outbox(db, max_entries=0, max_bytes=0, clock=SystemClock())  # only read: bounds unused
    evaluation = book.get(LAST_EVALUATION)
    return AgentStatus(
        agent_version=version,
        state_database=database_path,
        enrolled=device_id is not None,
        device_id=device_id,
        collector_url=collector_url,
        active_bundle=active_bundle,
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


def status_of(settings: AgentSettings) -> AgentStatus:
    """Read the state directory without changing anything in it (the `status` command)."""
    from agent.bundles import BundleStore
    from agent.compose import load_agent_catalogue
    from agent.enroll import CredentialsFile
    from agent.store import DATABASE_NAME

    credentials = CredentialsFile(settings.state_dir).load()
    version = BundleStore(settings.state_dir, trusted=()).current_version()
    if version is not None:
        bundle = f"signed policy bundle {version}"
    else:
        digest = load_agent_catalogue(settings).digest
        bundle = f"the catalogue installed with the agent (digest {digest[:16]})"
    path = settings.state_dir / DATABASE_NAME
    db = Database.read_only(path) if path.is_file() else None
    try:
        return read_status(
            db,
            version=__version__,
            device_id=credentials.device_id if credentials else None,
            collector_url=settings.collector_url,
            active_bundle=bundle,
            database_path=str(path),
        )
    finally:
        if db is not None:
            db.close()
