"""Embedded engine: chat history in the shared SQLite file."""

from __future__ import annotations

import sqlite3

import orjson

from grace_chat.chat.history import ChatMessage
from grace_chat.store.backends.sqlite_db import SQLiteDatabase

SCHEMA = """
CREATE TABLE IF NOT EXISTS chat_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL,
    role TEXT NOT NULL,
    text TEXT NOT NULL,
    data BLOB NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS chat_messages_user ON chat_messages (user_id, id);
"""


class SQLiteChatHistory:
    def __init__(self, db: SQLiteDatabase) -> None:
        self.db = db

    async def open(self) -> None:
        await self.db.write(lambda conn: conn.executescript(SCHEMA))

    async def add(self, m: ChatMessage) -> None:
        values = (m.user_id, m.role, m.text, orjson.dumps(m.data), m.at)

        def run(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO chat_messages (user_id, role, text, data, at) VALUES (?,?,?,?,?)",
                values,
            )

        await self.db.write(run)

    async def latest(self, user_id: str, limit: int) -> list[ChatMessage]:
        def run(conn: sqlite3.Connection) -> list[ChatMessage]:
            rows = conn.execute(
                "SELECT user_id, role, text, data, at FROM chat_messages WHERE user_id = ? "
                "ORDER BY id DESC LIMIT ?",
                (user_id, limit),
            ).fetchall()
            return [ChatMessage(r[0], r[1], r[2], orjson.loads(r[3]), r[4]) for r in reversed(rows)]

        return await self.db.read(run)
