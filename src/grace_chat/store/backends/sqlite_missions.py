"""Embedded engine: missions in the shared SQLite file."""

from __future__ import annotations

import sqlite3

from grace_chat.missions.model import (
    COLUMNS,
    Mission,
    MissionState,
    mission_from_row,
    mission_values,
)
from grace_chat.store.backends.sqlite_db import SQLiteDatabase, transaction

SCHEMA = """
CREATE TABLE IF NOT EXISTS missions (
    mission_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    user_id TEXT NOT NULL,
    steps BLOB NOT NULL,
    state TEXT NOT NULL,
    current INTEGER NOT NULL,
    task_ids BLOB NOT NULL,
    created_at REAL NOT NULL,
    finished_at REAL,
    error TEXT
);
CREATE INDEX IF NOT EXISTS missions_user ON missions (user_id, created_at);
"""


class SQLiteMissionStore:
    def __init__(self, db: SQLiteDatabase) -> None:
        self.db = db

    async def open(self) -> None:
        await self.db.write(lambda conn: conn.executescript(SCHEMA))

    async def save(self, mission: Mission) -> None:
        values = mission_values(mission)

        def run(conn: sqlite3.Connection) -> None:
            conn.execute(
                f"INSERT OR REPLACE INTO missions ({COLUMNS}) VALUES ({','.join('?' * 10)})",
                values,
            )

        await self.db.write(run)

    async def get(self, mission_id: str) -> Mission | None:
        def run(conn: sqlite3.Connection) -> Mission | None:
            row = conn.execute(
                f"SELECT {COLUMNS} FROM missions WHERE mission_id = ?", (mission_id,)
            ).fetchone()
            return mission_from_row(row) if row else None

        return await self.db.read(run)

    async def list_missions(self, user_id: str | None, limit: int = 50) -> list[Mission]:
        where, args = ("user_id = ?", [user_id]) if user_id is not None else ("1 = 1", [])

        def run(conn: sqlite3.Connection) -> list[Mission]:
            rows = conn.execute(
                f"SELECT {COLUMNS} FROM missions WHERE {where} "
                "ORDER BY state IN ('running', 'paused') DESC, created_at DESC LIMIT ?",
                (*args, limit),
            ).fetchall()
            return [mission_from_row(r) for r in rows]

        return await self.db.read(run)

    async def interrupt_active(self) -> list[Mission]:
        def body(conn: sqlite3.Connection) -> list[Mission]:
            rows = conn.execute(
                f"SELECT {COLUMNS} FROM missions WHERE state IN ('running', 'paused')"
            ).fetchall()
            changed = [
                mission_from_row(r).move(MissionState.INTERRUPTED, error="the server stopped")
                for r in rows
            ]
            for m in changed:
                conn.execute(
                    f"INSERT OR REPLACE INTO missions ({COLUMNS}) VALUES ({','.join('?' * 10)})",
                    mission_values(m),
                )
            return changed

        return await self.db.write(lambda conn: transaction(conn, body))
