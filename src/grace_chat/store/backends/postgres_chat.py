"""Shared engine: chat history in PostgreSQL."""

from __future__ import annotations

import orjson

from grace_chat.chat.history import ChatMessage
from grace_chat.store.backends.postgres_db import PostgresDatabase


class PostgresChatHistory:
    def __init__(self, db: PostgresDatabase) -> None:
        self.db = db

    async def open(self) -> None:
        """Nothing to do: the tables come with the database's schema versions."""

    async def add(self, m: ChatMessage) -> None:
        await self.db.execute(
            "INSERT INTO chat_messages (user_id, role, text, data, at) VALUES ($1, $2, $3, $4, $5)",
            m.user_id,
            m.role,
            m.text,
            orjson.dumps(m.data),
            m.at,
        )

    async def latest(self, user_id: str, limit: int) -> list[ChatMessage]:
        rows = await self.db.fetch(
            "SELECT user_id, role, text, data, at FROM chat_messages WHERE user_id = $1 "
            "ORDER BY id DESC LIMIT $2",
            user_id,
            limit,
        )
        return [ChatMessage(r[0], r[1], r[2], orjson.loads(r[3]), r[4]) for r in reversed(rows)]
