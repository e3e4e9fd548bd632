"""Shared engine: tasks and their logs in PostgreSQL.

A task runs in the process that started it, so each row records that process (``owner``, the
``instance`` of its database connection; a later save by any process keeps it). With several
processes on one database, ``interrupt_active`` at a process's start moves only the tasks whose
owner is no longer connected: a running neighbour's tasks are left alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from grace_chat.store.backends.postgres_db import LIVE_INSTANCES, Conn, PostgresDatabase
from grace_chat.tasks.model import TaskRecord, TaskState
from grace_chat.tasks.store import COLUMNS, task_from_row, task_values

_NAMES = [c.strip() for c in COLUMNS.split(",")]
_ACTIVE = "('queued', 'running', 'paused', 'cancelling')"
_SAVE = (
    f"INSERT INTO tasks ({COLUMNS}, owner) "
    f"VALUES ({', '.join(f'${i + 1}' for i in range(len(_NAMES) + 1))}) "
    "ON CONFLICT (task_id) DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in _NAMES[1:])
)


class PostgresTaskStore:
    def __init__(self, db: PostgresDatabase, log_limit: int = 1000) -> None:
        self.db = db
        self.log_limit = log_limit

    async def open(self) -> None:
        """Nothing to do: the tables come with the database's schema versions."""

    async def save(self, task: TaskRecord) -> None:
        await self.db.execute(_SAVE, *task_values(task), self.db.instance)

    async def get(self, task_id: str) -> TaskRecord | None:
        row = await self.db.fetchrow(f"SELECT {COLUMNS} FROM tasks WHERE task_id = $1", task_id)
        return task_from_row(row) if row else None

    async def list_for_user(
        self, user_id: str | None, *, include_finished: bool = True, limit: int = 50
    ) -> list[TaskRecord]:
        where = ["true"] if user_id is None else ["user_id = $2"]
        args: list[Any] = [] if user_id is None else [user_id]
        if not include_finished:
            where.append(f"state IN {_ACTIVE}")
        rows = await self.db.fetch(
            f"SELECT {COLUMNS} FROM tasks WHERE {' AND '.join(where)} "
            f"ORDER BY state IN {_ACTIVE} DESC, COALESCE(finished_at, created_at) DESC "
            "LIMIT $1",
            limit,
            *args,
        )
        return [task_from_row(r) for r in rows]

    async def append_log(self, task_id: str, lines: Sequence[tuple[float, str]]) -> None:
        if not lines:
            return

        async def body(conn: Conn) -> None:
            await conn.execute(
                "INSERT INTO task_log (task_id, t, line) "
                "SELECT $1, * FROM unnest($2::float8[], $3::text[])",
                task_id,
                [t for t, _ in lines],
                [line for _, line in lines],
            )
            await conn.execute(
                "DELETE FROM task_log WHERE task_id = $1 AND id <= "
                "(SELECT id FROM task_log WHERE task_id = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)",
                task_id,
                self.log_limit,
            )

        await self.db.transaction(body)

    async def read_log(self, task_id: str, limit: int) -> list[tuple[float, str]]:
        rows = await self.db.fetch(
            "SELECT t, line FROM task_log WHERE task_id = $1 ORDER BY id DESC LIMIT $2",
            task_id,
            limit,
        )
        return [(r[0], r[1]) for r in reversed(rows)]

    async def interrupt_active(self) -> list[TaskRecord]:
        async def body(conn: Conn) -> list[TaskRecord]:
            rows = await conn.fetch(
                f"SELECT {COLUMNS} FROM tasks WHERE state IN {_ACTIVE} "
                f"AND (owner IS NULL OR owner NOT IN ({LIVE_INSTANCES})) FOR UPDATE"
            )
            changed = [
                task_from_row(r).move(
                    TaskState.INTERRUPTED, error="the server stopped while it ran"
                )
                for r in rows
            ]
            await conn.executemany(
                "UPDATE tasks SET state = $1, finished_at = $2, error = $3, "
                "pause_requested = false WHERE task_id = $4",
                [(t.state.value, t.finished_at, t.error, t.task_id) for t in changed],
            )
            return changed

        return await self.db.transaction(body)
