"""Shared engine: missions in PostgreSQL.

A mission runs in the process that started it; as with tasks (``postgres_tasks``), each row
records that process, and ``interrupt_active`` moves only the missions whose process is gone.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson

from grace.missions.model import Mission, MissionState, Step
from grace.store.backends.postgres_db import LIVE_INSTANCES, Conn, PostgresDatabase

_COLUMNS = (
    "mission_id, name, user_id, steps, state, current, task_ids, created_at, finished_at, error"
)
_NAMES = [c.strip() for c in _COLUMNS.split(",")]
_SAVE = (
    f"INSERT INTO missions ({_COLUMNS}, owner) VALUES ({', '.join(f'${i}' for i in range(1, 12))}) "
    "ON CONFLICT (mission_id) DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in _NAMES[1:])
)


def _row(r: asyncpg.Record) -> Mission:
    steps = tuple(
        Step(s["task_type"], s.get("params", {}), s.get("title")) for s in orjson.loads(r[3])
    )
    return Mission(
        r[0],
        r[1],
        r[2],
        steps,
        MissionState(r[4]),
        r[5],
        tuple(orjson.loads(r[6])),
        r[7],
        r[8],
        r[9],
    )


def _values(m: Mission) -> tuple[Any, ...]:
    return (
        m.mission_id,
        m.name,
        m.user_id,
        orjson.dumps([s.info() for s in m.steps]),
        m.state.value,
        m.current,
        orjson.dumps(list(m.task_ids)),
        m.created_at,
        m.finished_at,
        m.error,
    )


class PostgresMissionStore:
    def __init__(self, db: PostgresDatabase) -> None:
        self.db = db

    async def open(self) -> None:
        """Nothing to do: the tables come with the database's schema versions."""

    async def save(self, mission: Mission) -> None:
        await self.db.execute(_SAVE, *_values(mission), self.db.instance)

    async def get(self, mission_id: str) -> Mission | None:
        row = await self.db.fetchrow(
            f"SELECT {_COLUMNS} FROM missions WHERE mission_id = $1", mission_id
        )
        return _row(row) if row else None

    async def list_missions(self, user_id: str | None, limit: int = 50) -> list[Mission]:
        where, args = ("user_id = $2", [user_id]) if user_id is not None else ("true", [])
        rows = await self.db.fetch(
            f"SELECT {_COLUMNS} FROM missions WHERE {where} "
            "ORDER BY state IN ('running', 'paused') DESC, created_at DESC LIMIT $1",
            limit,
            *args,
        )
        return [_row(r) for r in rows]

    async def interrupt_active(self) -> list[Mission]:
        async def body(conn: Conn) -> list[Mission]:
            rows = await conn.fetch(
                f"SELECT {_COLUMNS} FROM missions WHERE state IN ('running', 'paused') "
                f"AND (owner IS NULL OR owner NOT IN ({LIVE_INSTANCES})) FOR UPDATE"
            )
            changed = [
                _row(r).move(MissionState.INTERRUPTED, error="the server stopped") for r in rows
            ]
            await conn.executemany(_SAVE, [(*_values(m), self.db.instance) for m in changed])
            return changed

        return await self.db.transaction(body)
