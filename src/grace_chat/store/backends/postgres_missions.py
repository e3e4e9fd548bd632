"""Shared engine: missions in PostgreSQL.

A mission runs in the process that started it; as with tasks (``postgres_tasks``), each row
records that process, and ``interrupt_active`` moves only the missions whose process is gone.
"""

from __future__ import annotations

from grace_chat.missions.model import (
    COLUMNS,
    Mission,
    MissionState,
    mission_from_row,
    mission_values,
)
from grace_chat.store.backends.postgres_db import LIVE_INSTANCES, Conn, PostgresDatabase, alive

_NAMES = [c.strip() for c in COLUMNS.split(",")]
_SAVE = (
    f"INSERT INTO missions ({COLUMNS}, owner) VALUES ({', '.join(f'${i}' for i in range(1, 12))}) "
    "ON CONFLICT (mission_id) DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in _NAMES[1:])
)


class PostgresMissionStore:
    def __init__(self, db: PostgresDatabase) -> None:
        self.db = db

    async def open(self) -> None:
        """Nothing to do: the tables come with the database's schema versions."""

    async def save(self, mission: Mission) -> None:
        await self.db.execute(_SAVE, *mission_values(mission), self.db.instance)

    async def get(self, mission_id: str) -> Mission | None:
        row = await self.db.fetchrow(
            f"SELECT {COLUMNS} FROM missions WHERE mission_id = $1", mission_id
        )
        return mission_from_row(row) if row else None

    async def list_missions(self, user_id: str | None, limit: int = 50) -> list[Mission]:
        where, args = ("user_id = $2", [user_id]) if user_id is not None else ("true", [])
        rows = await self.db.fetch(
            f"SELECT {COLUMNS} FROM missions WHERE {where} "
            "ORDER BY state IN ('running', 'paused') DESC, created_at DESC LIMIT $1",
            limit,
            *args,
        )
        return [mission_from_row(r) for r in rows]

    async def owner(self, mission_id: str, timeout: float) -> tuple[int, bool] | None:
        """The process running ``mission_id`` and whether it is alive (connected, its heartbeat
        younger than ``timeout`` seconds); ``None`` when the mission is unknown or finished."""
        row = await self.db.fetchrow(
            f"SELECT owner, {alive('owner', '$2')} FROM missions WHERE mission_id = $1 "
            "AND state IN ('running', 'paused') AND owner IS NOT NULL",
            mission_id,
            timeout,
        )
        return None if row is None else (int(row[0]), bool(row[1]))

    async def interrupt_active(self) -> list[Mission]:
        async def body(conn: Conn) -> list[Mission]:
            rows = await conn.fetch(
                f"SELECT {COLUMNS} FROM missions WHERE state IN ('running', 'paused') "
                f"AND (owner IS NULL OR owner NOT IN ({LIVE_INSTANCES})) FOR UPDATE"
            )
            changed = [
                mission_from_row(r).move(MissionState.INTERRUPTED, error="the server stopped")
                for r in rows
            ]
            await conn.executemany(_SAVE, [(*mission_values(m), self.db.instance) for m in changed])
            return changed

        return await self.db.transaction(body)
