"""Embedded engine: the knowledge store (documents and their passages) in the shared SQLite file.

Passages live in an FTS5 table (``porter unicode61`` tokenizer), so search is ranked by BM25 and
returns highlighted snippets. Guarantees: ``add`` stores a document and all its passages in one
transaction, replacing any earlier document of the same user with the same name (a re-ingested
file never leaves stale passages); ``search`` only ever sees whole documents; a caller's query
text is reduced to plain words before it reaches FTS5, so no input is a syntax error.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from typing import Any

import orjson

from grace_chat.learning.knowledge import Document, Hit
from grace_chat.store.backends.sqlite_db import SQLiteDatabase, transaction

SCHEMA = """
CREATE TABLE IF NOT EXISTS knowledge_documents (
    document_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    origin TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    chars INTEGER NOT NULL,
    passages INTEGER NOT NULL,
    trust REAL NOT NULL,
    detail BLOB NOT NULL,
    task_id TEXT,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS knowledge_documents_user ON knowledge_documents (user_id, name);
CREATE VIRTUAL TABLE IF NOT EXISTS knowledge_passages USING fts5(
    text, document_id UNINDEXED, ordinal UNINDEXED, tokenize = 'porter unicode61'
);
"""

_WORD = re.compile(r"\w+", re.UNICODE)
_DOC_COLUMNS = (
    "document_id, user_id, name, kind, origin, sha256, size, chars, passages, trust, detail, "
    "task_id, created_at"
)


def match_expression(query: str, *, any_word: bool = False) -> str | None:
    """Plain words of ``query`` as an FTS5 expression: every word (or any word) must match."""
    words = _WORD.findall(query.lower())[:32]
    if not words:
        return None
    quoted = [f'"{w}"' for w in dict.fromkeys(words)]
    return (" OR " if any_word else " ").join(quoted)


def _document(row: tuple[Any, ...]) -> Document:
    return Document(
        document_id=row[0],
        user_id=row[1],
        name=row[2],
        kind=row[3],
        origin=row[4],
        sha256=row[5],
        size=row[6],
        chars=row[7],
        passages=row[8],
        trust=row[9],
        detail=orjson.loads(row[10]),
        task_id=row[11],
        created_at=row[12],
    )


class SQLiteKnowledgeStore:
    def __init__(self, db: SQLiteDatabase) -> None:
        self.db = db

    async def open(self) -> None:
        await self.db.write(lambda conn: conn.executescript(SCHEMA))

    async def add(self, document: Document, passages: Sequence[str]) -> Document:
        """Store ``document`` with ``passages``; replaces the user's document of the same name."""

        def body(conn: sqlite3.Connection) -> None:
            old = [
                r[0]
                for r in conn.execute(
                    "SELECT document_id FROM knowledge_documents WHERE user_id = ? AND name = ?",
                    (document.user_id, document.name),
                )
            ]
            for document_id in old:
                conn.execute("DELETE FROM knowledge_passages WHERE document_id = ?", (document_id,))
                conn.execute(
                    "DELETE FROM knowledge_documents WHERE document_id = ?", (document_id,)
                )
            d = document
            conn.execute(
                f"INSERT INTO knowledge_documents ({_DOC_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    d.document_id,
                    d.user_id,
                    d.name,
                    d.kind,
                    d.origin,
                    d.sha256,
                    d.size,
                    d.chars,
                    d.passages,
                    d.trust,
                    orjson.dumps(d.detail),
                    d.task_id,
                    d.created_at,
                ),
            )
            conn.executemany(
                "INSERT INTO knowledge_passages (text, document_id, ordinal) VALUES (?, ?, ?)",
                [(text, d.document_id, i) for i, text in enumerate(passages)],
            )

        await self.db.write(lambda conn: transaction(conn, body))
        return document

    async def get(self, document_id: str) -> Document | None:
        def run(conn: sqlite3.Connection) -> Document | None:
            row = conn.execute(
                f"SELECT {_DOC_COLUMNS} FROM knowledge_documents WHERE document_id = ?",
                (document_id,),
            ).fetchone()
            return _document(row) if row else None

        return await self.db.read(run)

    async def documents(self, user_id: str | None, limit: int = 100) -> list[Document]:
        """The user's documents (``None``: everyone's), newest first."""
        where, args = ("", ()) if user_id is None else ("WHERE user_id = ?", (user_id,))

        def run(conn: sqlite3.Connection) -> list[Document]:
            rows = conn.execute(
                f"SELECT {_DOC_COLUMNS} FROM knowledge_documents {where} "
                "ORDER BY created_at DESC LIMIT ?",
                (*args, limit),
            ).fetchall()
            return [_document(r) for r in rows]

        return await self.db.read(run)

    async def passages(self, document_id: str) -> list[str]:
        def run(conn: sqlite3.Connection) -> list[str]:
            rows = conn.execute(
                "SELECT text FROM knowledge_passages WHERE document_id = ? "
                "ORDER BY CAST(ordinal AS INTEGER)",
                (document_id,),
            ).fetchall()
            return [r[0] for r in rows]

        return await self.db.read(run)

    async def search(self, query: str, user_id: str | None, limit: int = 10) -> list[Hit]:
        """Best passages for ``query`` (every word; if none has them all, any word), ranked by
        BM25, among the user's documents (``None``: everyone's)."""
        hits: list[Hit] = []
        for any_word in (False, True):
            expression = match_expression(query, any_word=any_word)
            if expression is None:
                return []
            hits = await self._search(expression, user_id, limit)
            if hits:
                break
        return hits

    async def _search(self, expression: str, user_id: str | None, limit: int) -> list[Hit]:
        scope = "" if user_id is None else "AND d.user_id = ?"
        args: tuple[Any, ...] = (expression,) if user_id is None else (expression, user_id)

        def run(conn: sqlite3.Connection) -> list[Hit]:
            rows = conn.execute(
                "SELECT p.document_id, d.name, p.ordinal, "
                "snippet(knowledge_passages, 0, '[', ']', '…', 24), "
                "bm25(knowledge_passages), d.trust "
                "FROM knowledge_passages AS p "
                "JOIN knowledge_documents AS d ON d.document_id = p.document_id "
                f"WHERE knowledge_passages MATCH ? {scope} "
                "ORDER BY bm25(knowledge_passages) LIMIT ?",
                (*args, limit),
            ).fetchall()
            return [Hit(r[0], r[1], int(r[2]), r[3], -float(r[4]), float(r[5])) for r in rows]

        return await self.db.read(run)
