"""Embedded engine: tasks and their logs in the same SQLite file as the notification log."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from grace_chat.store.backends.sqlite_db import SQLiteDatabase, transaction
from grace_chat.tasks.model import TaskRecord, TaskState
from grace_chat.tasks.store import COLUMNS, task_from_row, task_values

SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    task_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    task_type TEXT NOT NULL,
    state TEXT NOT NULL,
    params BLOB NOT NULL,
    title TEXT NOT NULL,
    progress REAL,
    note TEXT,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    result BLOB,
    error TEXT,
    pause_requested INTEGER NOT NULL DEFAULT 0,
    parent TEXT
);
CREATE INDEX IF NOT EXISTS tasks_user ON tasks (user_id, created_at);
CREATE INDEX IF NOT EXISTS tasks_active ON tasks (state)
    WHERE state IN ('queued', 'running', 'paused', 'cancelling');
CREATE TABLE IF NOT EXISTS task_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id TEXT NOT NULL,
    t REAL NOT NULL,
    line TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS task_log_task ON task_log (task_id, id);
"""

_ACTIVE = "('queued', 'running', 'paused', 'cancelling')"


class SQLiteTaskStore:
    def __init__(self, db: SQLiteDatabase, log_limit: int = 1000) -> None:
        self.db = db
        self.log_limit = log_limit

    async def open(self) -> None:
        await self.db.write(lambda conn: conn.executescript(SCHEMA))

    async def save(self, task: TaskRecord) -> bool:
        """Always stored: one process runs every task of the embedded engine."""
        values = task_values(task)
        marks = ",".join("?" * len(values))

        def run(conn: sqlite3.Connection) -> None:
            conn.execute(f"INSERT OR REPLACE INTO tasks ({COLUMNS}) VALUES ({marks})", values)

        await self.db.write(run)
        return True

    async def get(self, task_id: str) -> TaskRecord | None:
        def run(conn: sqlite3.Connection) -> TaskRecord | None:
            row = conn.execute(
                f"SELECT {COLUMNS} FROM tasks WHERE task_id = ?", (task_id,)
            ).fetchone()
            return task_from_row(row) if row else None

        return await self.db.read(run)

    async def list_for_user(
        self, user_id: str | None, *, include_finished: bool = True, limit: int = 50
    ) -> list[TaskRecord]:
        where = ["1 = 1"] if user_id is None else ["user_id = ?"]
        args: list[Any] = [] if user_id is None else [user_id]
        if not include_finished:
            where.append(f"state IN {_ACTIVE}")

        def run(conn: sqlite3.Connection) -> list[TaskRecord]:
            rows = conn.execute(
                f"SELECT {COLUMNS} FROM tasks WHERE {' AND '.join(where)} "
                f"ORDER BY state IN {_ACTIVE} DESC, COALESCE(finished_at, created_at) DESC "
                "LIMIT ?",
                (*args, limit),
            ).fetchall()
            return [task_from_row(r) for r in rows]

        return await self.db.read(run)

    async def append_log(self, task_id: str, lines: Sequence[tuple[float, str]]) -> None:
        if not lines:
            return

        def body(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "INSERT INTO task_log (task_id, t, line) VALUES (?, ?, ?)",
                [(task_id, t, line) for t, line in lines],
            )
            conn.execute(
                "DELETE FROM task_log WHERE task_id = ? AND id <= "
                "(SELECT id FROM task_log WHERE task_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
                (task_id, task_id, self.log_limit),
            )

        await self.db.write(lambda conn: transaction(conn, body))

    async def read_log(self, task_id: str, limit: int) -> list[tuple[float, str]]:
        def run(conn: sqlite3.Connection) -> list[tuple[float, str]]:
            rows = conn.execute(
                "SELECT t, line FROM task_log WHERE task_id = ? ORDER BY id DESC LIMIT ?",
                (task_id, limit),
            ).fetchall()
            return [(t, line) for t, line in reversed(rows)]

        return await self.db.read(run)

    async def interrupt_active(self) -> list[TaskRecord]:
        def body(conn: sqlite3.Connection) -> list[TaskRecord]:
            rows = conn.execute(f"SELECT {COLUMNS} FROM tasks WHERE state IN {_ACTIVE}").fetchall()
            changed = [
                task_from_row(r).move(
                    TaskState.INTERRUPTED, error="the server stopped while it ran"
                )
                for r in rows
            ]
            conn.executemany(
                "UPDATE tasks SET state = ?, finished_at = ?, error = ?, pause_requested = 0 "
                "WHERE task_id = ?",
                [(t.state.value, t.finished_at, t.error, t.task_id) for t in changed],
            )
            return changed

        return await self.db.write(lambda conn: transaction(conn, body))
