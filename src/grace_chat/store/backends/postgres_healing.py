"""Shared engine: self-healing attempts in PostgreSQL."""

from __future__ import annotations

import asyncpg

from grace_chat.selfheal.model import Attempt, Outcome, Strategy
from grace_chat.store.backends.postgres_db import PostgresDatabase

_COLUMNS = (
    "attempt_id, playbook, strategy, incident, trigger, user_id, started_at, finished_at, "
    "outcome, detail"
)
_NAMES = [c.strip() for c in _COLUMNS.split(",")]


def _row(r: asyncpg.Record) -> Attempt:
    return Attempt(r[0], r[1], Strategy(r[2]), r[3], r[4], r[5], r[6], r[7], Outcome(r[8]), r[9])


class PostgresAttemptStore:
    def __init__(self, db: PostgresDatabase) -> None:
        self.db = db

    async def open(self) -> None:
        """Nothing to do: the tables come with the database's schema versions."""

    async def save(self, a: Attempt) -> None:
        await self.db.execute(
            f"INSERT INTO healing_attempts ({_COLUMNS}) "
            f"VALUES ({', '.join(f'${i}' for i in range(1, 11))}) "
            "ON CONFLICT (attempt_id) DO UPDATE SET "
            + ", ".join(f"{c} = excluded.{c}" for c in _NAMES[1:]),
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

    async def recent(self, user_id: str | None, limit: int = 20) -> list[Attempt]:
        where, args = ("user_id = $2", [user_id]) if user_id is not None else ("true", [])
        rows = await self.db.fetch(
            f"SELECT {_COLUMNS} FROM healing_attempts WHERE {where} "
            "ORDER BY started_at DESC LIMIT $1",
            limit,
            *args,
        )
        return [_row(r) for r in rows]

    async def count_since(self, incident: str, since: float) -> int:
        return int(
            await self.db.fetchval(
                "SELECT COUNT(*) FROM healing_attempts WHERE incident = $1 AND started_at >= $2 "
                "AND outcome != 'gave_up'",
                incident,
                since,
            )
        )
