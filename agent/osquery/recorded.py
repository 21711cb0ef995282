"""The `QueryRunner` seam answered by a recorded device instead of osqueryd.

`fleetward-agent check --device FILE` and the fleet simulator run the agent's real evaluation over a
recorded laptop through `fleetward.recorded.RecordedEngine` (osquery's SQLite dialect and tables).
"""

from __future__ import annotations

from pathlib import Path

from fleetward.recorded.engine import RecordedEngine


class RecordedRunner:
    """Runs policy SQL against one recorded device; the engine outlives one evaluation."""

    def __init__(self, engine: RecordedEngine) -> None:
        self._engine = engine

    @classmethod
    def from_file(cls, device_file: Path) -> RecordedRunner:
        from fleetward.recorded import load_device

        return cls(RecordedEngine(load_device(device_file)))

    def query(self, sql: str) -> list[dict[str, str]]:
        return self._engine.query(sql)

    def close(self) -> None:
        """Nothing to release: the engine is reused by the next evaluation."""
