"""Embedded engine: the learning supervisor's gates, its jobs and its watched-folder memory.

Guarantees: the gates (everyone's and each user's; running / paused) and every waiting job are
durable once the call that changed them returns, so they survive a restart; ``jobs`` keeps at
most ``keep`` finished (``started``) jobs per store, the newest, and never drops a waiting one.

Schema: ``learning_gates`` holds one row per gate, keyed by user id, everyone's gate under the
empty id (which no user can have). A file from before per-user gates has one ``learning_gate``
row, everyone's; ``open`` moves it into ``learning_gates`` as everyone's gate (a pause in force
stays in force until an admin resumes it) and drops the old table, in one transaction.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from grace_chat.learning.model import Gate, GateState, JobState, LearningJob
from grace_chat.store.backends.sqlite_db import SQLiteDatabase, transaction

log = logging.getLogger("grace_chat.store.sqlite")

#: The key of everyone's gate in ``learning_gates``: not a user id (those are never empty).
EVERYONE = ""

SCHEMA = """
CREATE TABLE IF NOT EXISTS learning_gates (
    user_id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    changed_at REAL,
    changed_by TEXT
);
CREATE TABLE IF NOT EXISTS learning_jobs (
    task_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    name TEXT NOT NULL,
    path TEXT NOT NULL,
    origin TEXT NOT NULL,
    owned INTEGER NOT NULL,
    state TEXT NOT NULL,
    submitted_at REAL NOT NULL,
    started_at REAL
);
CREATE INDEX IF NOT EXISTS learning_jobs_order ON learning_jobs (state, submitted_at);
CREATE TABLE IF NOT EXISTS learning_watch (
    path TEXT PRIMARY KEY,
    signature TEXT NOT NULL
);
"""

_COLUMNS = "task_id, user_id, name, path, origin, owned, state, submitted_at, started_at"


def _create(conn: sqlite3.Connection) -> None:
    """The tables, and the move of a file's single gate (before per-user gates) to everyone's."""
    conn.executescript(SCHEMA)
    old = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'learning_gate'"
    ).fetchone()
    if old is None:
        return

    def move(conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT OR IGNORE INTO learning_gates (user_id, state, changed_at, changed_by) "
            "SELECT ?, state, changed_at, changed_by FROM learning_gate WHERE id = 1",
            (EVERYONE,),
        )
        conn.execute("DROP TABLE learning_gate")

    transaction(conn, move)
    log.info("learning: the single learning gate is now everyone's gate (per-user gates)")


def _job(row: tuple[Any, ...]) -> LearningJob:
    return LearningJob(
        task_id=row[0],
        user_id=row[1],
        name=row[2],
        path=row[3],
        origin=row[4],
        owned=bool(row[5]),
        state=JobState(row[6]),
        submitted_at=row[7],
        started_at=row[8],
    )


class SQLiteLearningStore:
    def __init__(self, db: SQLiteDatabase, keep: int = 200) -> None:
        self.db = db
        self.keep = keep

    async def open(self) -> None:
        await self.db.write(_create)

    async def gates(self) -> dict[str | None, Gate]:
        def run(conn: sqlite3.Connection) -> dict[str | None, Gate]:
            rows = conn.execute(
                "SELECT user_id, state, changed_at, changed_by FROM learning_gates"
            ).fetchall()
            return {
                (None if user == EVERYONE else user): Gate(GateState(state), at, by)
                for user, state, at, by in rows
            }

        return await self.db.read(run)

    async def set_gate(self, user_id: str | None, gate: Gate) -> None:
        if user_id == EVERYONE:
            raise ValueError("a user id is never empty; None names everyone's gate")

        def run(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT OR REPLACE INTO learning_gates (user_id, state, changed_at, changed_by) "
                "VALUES (?, ?, ?, ?)",
                (
                    EVERYONE if user_id is None else user_id,
                    gate.state.value,
                    gate.changed_at,
                    gate.changed_by,
                ),
            )

        await self.db.write(run)

    async def save(self, job: LearningJob) -> None:
        values = (
            job.task_id,
            job.user_id,
            job.name,
            job.path,
            job.origin,
            int(job.owned),
            job.state.value,
            job.submitted_at,
            job.started_at,
        )

        def body(conn: sqlite3.Connection) -> None:
            conn.execute(
                f"INSERT OR REPLACE INTO learning_jobs ({_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                values,
            )
            conn.execute(
                "DELETE FROM learning_jobs WHERE state = 'started' AND task_id IN ("
                "SELECT task_id FROM learning_jobs WHERE state = 'started' "
                "ORDER BY started_at DESC LIMIT -1 OFFSET ?)",
                (self.keep,),
            )

        await self.db.write(lambda conn: transaction(conn, body))

    async def get(self, task_id: str) -> LearningJob | None:
        def run(conn: sqlite3.Connection) -> LearningJob | None:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM learning_jobs WHERE task_id = ?", (task_id,)
            ).fetchone()
            return _job(row) if row else None

        return await self.db.read(run)

    async def jobs(
        self, state: JobState, user_id: str | None = None, limit: int = 1000
    ) -> list[LearningJob]:
        """Jobs in ``state`` (of one user, or everyone's): waiting ones oldest first (the order
        they start in), started ones newest first."""
        order = "submitted_at ASC" if state is JobState.WAITING else "started_at DESC"
        scope, args = ("", ()) if user_id is None else ("AND user_id = ?", (user_id,))

        def run(conn: sqlite3.Connection) -> list[LearningJob]:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM learning_jobs WHERE state = ? {scope} "
                f"ORDER BY {order} LIMIT ?",
                (state.value, *args, limit),
            ).fetchall()
            return [_job(r) for r in rows]

        return await self.db.read(run)

    async def count_waiting(self, user_id: str | None = None) -> int:
        scope, args = ("", ()) if user_id is None else ("AND user_id = ?", (user_id,))

        def run(conn: sqlite3.Connection) -> int:
            row = conn.execute(
                f"SELECT COUNT(*) FROM learning_jobs WHERE state = 'waiting' {scope}", args
            ).fetchone()
            return int(row[0])

        return await self.db.read(run)

    async def watch_signatures(self) -> dict[str, str]:
        def run(conn: sqlite3.Connection) -> dict[str, str]:
            return dict(conn.execute("SELECT path, signature FROM learning_watch").fetchall())

        return await self.db.read(run)

    async def set_watch_signature(self, path: str, signature: str) -> None:
        def run(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT OR REPLACE INTO learning_watch (path, signature) VALUES (?, ?)",
                (path, signature),
            )

        await self.db.write(run)
