"""The agent's local database: outbox, dead letters, last known state per policy, and a few facts.

One SQLite file in the state directory, in WAL mode with `synchronous=FULL`: a committed transaction
survives `kill -9` and power loss, and the agent writes each evaluation's report and its new
last-known state in ONE transaction, so a crash can neither lose a transition nor report it twice.
The file is created owner-only (0600) because it holds evidence from the laptop.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from agent.errors import StateError

DATABASE_NAME = "agent.db"

_SCHEMA = (
    # version 1
    """
    CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        report_id TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        observed_at TEXT NOT NULL,
        body TEXT NOT NULL,
        size INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT
    );
    CREATE TABLE dead_letter (
        report_id TEXT PRIMARY KEY,
        body TEXT NOT NULL,
        status_code INTEGER,
        reason TEXT NOT NULL,
        at TEXT NOT NULL
    );
    CREATE TABLE pending_event (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        at TEXT NOT NULL,
        message TEXT NOT NULL
    );
    CREATE TABLE policy_state (
        policy_id TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        version TEXT NOT NULL,
        observed_at TEXT NOT NULL
    );
    CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
    # version 2: 5xx answers counted apart from network failures (a poisoned report is dead-lettered)
    """
    ALTER TABLE outbox ADD COLUMN server_errors INTEGER NOT NULL DEFAULT 0;
    """,
)


class Database:
    """A connection with the agent's pragmas and a nestable write transaction."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            _create_private(path)
            self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except (OSError, sqlite3.Error) as exc:
            raise StateError(
                f"cannot open the agent's database {path}: {exc}; check that the state_dir exists and "
                "belongs to the agent's user"
            ) from exc
        self._lock = threading.RLock()
        self._depth = 0

    @classmethod
    def read_only(cls, path: Path) -> Database:
        """Open an existing database to read it (`status`): never created, migrated or written.

        SQLite's `mode=ro` URI; a WAL database stays readable while the service writes to it.
        """
        self = cls.__new__(cls)
        self.path = path
        try:
            self._conn = sqlite3.connect(
                f"{path.absolute().as_uri()}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
            )
            self._conn.execute("SELECT COUNT(*) FROM meta").fetchone()
        except sqlite3.Error as exc:
            raise StateError(
                f"cannot read the agent's database {path}: {exc}; run `status` as the agent's user (root)"
            ) from None
        self._lock = threading.RLock()
        self._depth = 0
        return self

    @classmethod
    def in_state_dir(cls, state_dir: Path) -> Database:
        ensure_private_dir(state_dir)
        return cls(state_dir / DATABASE_NAME)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction; nested uses join the outer one, which commits once at the end."""
        with self._lock:
            outer = self._depth == 0
            if outer:
                self._conn.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield self._conn
            except BaseException:
                self._depth -= 1
                if outer:
                    self._conn.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outer:
                self._conn.execute("COMMIT")

    def read(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        with self._lock:
            return list(self._conn.execute(sql, params).fetchall())

    def get_meta(self, key: str) -> str | None:
        rows = self.read("SELECT value FROM meta WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _migrate(self) -> None:
        version = int(self._conn.execute("PRAGMA user_version").fetchone()[0])
        if version > len(_SCHEMA):
            # A rollback past a schema change: never write into a layout this version does not know.
            self._conn.close()
            raise StateError(
                f"the agent's database {self.path} was written by a newer agent (schema {version}; this "
                f"agent knows up to {len(_SCHEMA)}): install the newer agent again, or move the file aside "
                "to start afresh (its undelivered reports are then lost)"
            )
        for number, script in enumerate(_SCHEMA[version:], start=version + 1):
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in script.split(";"):
                    if statement.strip():
                        self._conn.execute(statement)
                self._conn.execute(f"PRAGMA user_version = {number}")
            except sqlite3.Error:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")


def ensure_private_dir(path: Path) -> None:
    """Create the state directory owner-only; on Windows the ACL of %ProgramData% applies (see docs)."""
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise StateError(
            f"cannot create the state directory {path}: {exc.strerror or exc}; run the agent as the service "
            "user or set FLEETWARD_STATE_DIR"
        ) from exc


def _create_private(path: Path) -> None:
    # SQLite creates its -wal and -shm files with the database file's permissions.
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
