"""Shared engine: tasks and their logs in PostgreSQL.

A task runs in the process that started it, so each row records that process (``owner``, the
``instance`` of its database connection; a later save by any process keeps it). With several
processes on one database, ``interrupt_active`` at a process's start moves only the tasks whose
owner is no longer connected: a running neighbour's tasks are left alone.

In a cluster (``grace_chat.cluster``) the owner moves ``heartbeat_at`` of its active tasks with
its own heartbeat (``heartbeat``), and the leader's sweep (``interrupt_orphans``) interrupts the
active tasks whose owner is gone or whose heartbeat is older than the timeout. A row that reached
a terminal state is final: a later save (from a process that was thought dead and comes back)
does not change it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from grace_chat.store.backends.postgres_db import (
    LIVE_INSTANCES,
    Conn,
    PostgresDatabase,
    affected,
    alive,
)
from grace_chat.tasks.model import TaskRecord, TaskState
from grace_chat.tasks.store import COLUMNS, ORPHANED, task_from_row, task_values

_NAMES = [c.strip() for c in COLUMNS.split(",")]
_ACTIVE = "('queued', 'running', 'paused', 'cancelling')"
_SAVE = (
    f"INSERT INTO tasks ({COLUMNS}, owner, heartbeat_at) "
    f"VALUES ({', '.join(f'${i + 1}' for i in range(len(_NAMES) + 1))}, now()) "
    "ON CONFLICT (task_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _NAMES[1:])
    + f", heartbeat_at = now() WHERE tasks.state IN {_ACTIVE}"
)
_RETURNING = ", ".join(f"t.{c}" for c in _NAMES)


class PostgresTaskStore:
    def __init__(self, db: PostgresDatabase, log_limit: int = 1000) -> None:
        self.db = db
        self.log_limit = log_limit

    async def open(self) -> None:
        """Nothing to do: the tables come with the database's schema versions."""

    async def save(self, task: TaskRecord) -> bool:
        """``False`` when the stored row is terminal already: it is kept as it is."""
        return affected(await self.db.execute(_SAVE, *task_values(task), self.db.instance)) > 0

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

    # -- the cluster --------------------------------------------------------------------------

    async def owner(self, task_id: str, timeout: float) -> tuple[int, bool] | None:
        """The process running ``task_id`` and whether it is alive (connected, its heartbeat
        younger than ``timeout`` seconds); ``None`` when the task is unknown or finished."""
        row = await self.db.fetchrow(
            f"SELECT owner, {alive('owner', '$2')} FROM tasks "
            f"WHERE task_id = $1 AND state IN {_ACTIVE} AND owner IS NOT NULL",
            task_id,
            timeout,
        )
        return None if row is None else (int(row[0]), bool(row[1]))

    async def heartbeat(self, instance: int) -> None:
        await self.db.execute(
            f"UPDATE tasks SET heartbeat_at = now() WHERE owner = $1 AND state IN {_ACTIVE}",
            instance,
        )

    async def interrupt_orphans(self, timeout: float) -> list[TaskRecord]:
        """Interrupt the active tasks whose owner is not connected, or whose heartbeat is older
        than ``timeout`` seconds; returns them as they are now."""
        rows = await self.db.fetch(
            "UPDATE tasks AS t SET state = 'interrupted', "
            "finished_at = extract(epoch FROM clock_timestamp()), error = $1, "
            "pause_requested = false "
            f"WHERE t.state IN {_ACTIVE} AND (t.owner IS NULL "
            f"OR t.owner NOT IN ({LIVE_INSTANCES}) "
            "OR t.heartbeat_at < now() - make_interval(secs => $2)) "
            f"RETURNING {_RETURNING}",
            ORPHANED,
            timeout,
        )
        return [task_from_row(r) for r in rows]
