"""Shared engine: the learning supervisor's gates, its jobs and its watched-folder memory.

Guarantees as on the embedded engine (``sqlite_learning``): the gates (everyone's, keyed by the
empty id, and each user's) and every waiting job are
durable once the call that changed them returns; at most ``keep`` started jobs are kept, the
newest, and a waiting one is never dropped.
"""

from __future__ import annotations

import asyncpg

from grace_chat.learning.model import Gate, GateState, JobState, LearningJob
from grace_chat.store.backends.postgres_db import Conn, PostgresDatabase

#: The key of everyone's gate in ``learning_gates``: not a user id (those are never empty).
EVERYONE = ""

_COLUMNS = "task_id, user_id, name, path, origin, owned, state, submitted_at, started_at"
_NAMES = [c.strip() for c in _COLUMNS.split(",")]


def _job(row: asyncpg.Record) -> LearningJob:
    return LearningJob(
        task_id=row[0],
        user_id=row[1],
        name=row[2],
        path=row[3],
        origin=row[4],
        owned=row[5],
        state=JobState(row[6]),
        submitted_at=row[7],
        started_at=row[8],
    )


class PostgresLearningStore:
    def __init__(self, db: PostgresDatabase, keep: int = 200) -> None:
        self.db = db
        self.keep = keep

    async def open(self) -> None:
        """Nothing to do: the tables come with the database's schema versions."""

    async def gates(self) -> dict[str | None, Gate]:
        rows = await self.db.fetch(
            "SELECT user_id, state, changed_at, changed_by FROM learning_gates"
        )
        return {
            (None if r[0] == EVERYONE else r[0]): Gate(GateState(r[1]), r[2], r[3]) for r in rows
        }

    async def set_gate(self, user_id: str | None, gate: Gate) -> None:
        if user_id == EVERYONE:
            raise ValueError("a user id is never empty; None names everyone's gate")
        await self.db.execute(
            "INSERT INTO learning_gates (user_id, state, changed_at, changed_by) "
            "VALUES ($1, $2, $3, $4) ON CONFLICT (user_id) DO UPDATE SET state = excluded.state, "
            "changed_at = excluded.changed_at, changed_by = excluded.changed_by",
            EVERYONE if user_id is None else user_id,
            gate.state.value,
            gate.changed_at,
            gate.changed_by,
        )

    async def save(self, job: LearningJob) -> None:
        async def body(conn: Conn) -> None:
            await conn.execute(
                f"INSERT INTO learning_jobs ({_COLUMNS}) "
                f"VALUES ({', '.join(f'${i}' for i in range(1, 10))}) "
                "ON CONFLICT (task_id) DO UPDATE SET "
                + ", ".join(f"{c} = excluded.{c}" for c in _NAMES[1:]),
                job.task_id,
                job.user_id,
                job.name,
                job.path,
                job.origin,
                job.owned,
                job.state.value,
                job.submitted_at,
                job.started_at,
            )
            await conn.execute(
                "DELETE FROM learning_jobs WHERE state = 'started' AND task_id IN ("
                "SELECT task_id FROM learning_jobs WHERE state = 'started' "
                "ORDER BY started_at DESC OFFSET $1)",
                self.keep,
            )

        await self.db.transaction(body)

    async def get(self, task_id: str) -> LearningJob | None:
        row = await self.db.fetchrow(
            f"SELECT {_COLUMNS} FROM learning_jobs WHERE task_id = $1", task_id
        )
        return _job(row) if row else None

    async def jobs(
        self, state: JobState, user_id: str | None = None, limit: int = 1000
    ) -> list[LearningJob]:
        """Jobs in ``state`` (of one user, or everyone's): waiting ones oldest first (the order
        they start in), started ones newest first."""
        order = "submitted_at ASC" if state is JobState.WAITING else "started_at DESC"
        scope, args = ("", []) if user_id is None else ("AND user_id = $3", [user_id])
        rows = await self.db.fetch(
            f"SELECT {_COLUMNS} FROM learning_jobs WHERE state = $1 {scope} "
            f"ORDER BY {order} LIMIT $2",
            state.value,
            limit,
            *args,
        )
        return [_job(r) for r in rows]

    async def count_waiting(self, user_id: str | None = None) -> int:
        scope, args = ("", []) if user_id is None else ("AND user_id = $1", [user_id])
        return int(
            await self.db.fetchval(
                f"SELECT COUNT(*) FROM learning_jobs WHERE state = 'waiting' {scope}", *args
            )
        )

    async def watch_signatures(self) -> dict[str, str]:
        rows = await self.db.fetch("SELECT path, signature FROM learning_watch")
        return {r[0]: r[1] for r in rows}

    async def set_watch_signature(self, path: str, signature: str) -> None:
        await self.db.execute(
            "INSERT INTO learning_watch (path, signature) VALUES ($1, $2) "
            "ON CONFLICT (path) DO UPDATE SET signature = excluded.signature",
            path,
            signature,
        )
