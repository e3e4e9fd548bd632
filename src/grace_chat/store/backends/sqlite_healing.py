"""Embedded engine: self-healing attempts in the shared SQLite file."""

from __future__ import annotations

import sqlite3
from typing import Any

from grace_chat.selfheal.model import Attempt, Outcome, Strategy
from grace_chat.store.backends.sqlite_db import SQLiteDatabase

SCHEMA = """
CREATE TABLE IF NOT EXISTS healing_attempts (
    attempt_id TEXT PRIMARY KEY,
    playbook TEXT NOT NULL,
    strategy TEXT NOT NULL,
    incident TEXT NOT NULL,
    trigger TEXT NOT NULL,
    user_id TEXT NOT NULL,
    started_at REAL NOT NULL,
    finished_at REAL,
    outcome TEXT NOT NULL,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS healing_incident ON healing_attempts (incident, started_at);
CREATE INDEX IF NOT EXISTS healing_user ON healing_attempts (user_id, started_at);
"""
_COLUMNS = (
    "attempt_id, playbook, strategy, incident, trigger, user_id, started_at, finished_at, "
    "outcome, detail"
)


def _row(r: tuple[Any, ...]) -> Attempt:
    return Attempt(r[0], r[1], Strategy(r[2]), r[3], r[4], r[5], r[6], r[7], Outcome(r[8]), r[9])


class SQLiteAttemptStore:
    def __init__(self, db: SQLiteDatabase) -> None:
        self.db = db

    async def open(self) -> None:
        await self.db.write(lambda conn: conn.executescript(SCHEMA))

    async def save(self, a: Attempt) -> None:
        values = (
            a.attempt_id,
            a.playbook,
            a.strategy.value,
            a.incident,
            a.trigger,
            a.user_id,
            a.started_at,
            a.finished_at,
            a.outcome.value,
            a.detail,
        )

        def run(conn: sqlite3.Connection) -> None:
            conn.execute(
                f"INSERT OR REPLACE INTO healing_attempts ({_COLUMNS}) "
                f"VALUES ({','.join('?' * 10)})",
                values,
            )

        await self.db.write(run)

    async def recent(self, user_id: str | None, limit: int = 20) -> list[Attempt]:
        where, args = ("user_id = ?", [user_id]) if user_id is not None else ("1 = 1", [])

        def run(conn: sqlite3.Connection) -> list[Attempt]:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM healing_attempts WHERE {where} "
                "ORDER BY started_at DESC LIMIT ?",
                (*args, limit),
            ).fetchall()
            return [_row(r) for r in rows]

        return await self.db.read(run)

    async def count_since(self, incident: str, since: float) -> int:
        def run(conn: sqlite3.Connection) -> int:
            return int(
                conn.execute(
                    "SELECT COUNT(*) FROM healing_attempts WHERE incident = ? AND started_at >= ? "
                    "AND outcome != 'gave_up'",
                    (incident, since),
                ).fetchone()[0]
            )

        return await self.db.read(run)
