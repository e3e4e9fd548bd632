"""Shared engine: the knowledge store (documents and their passages) in PostgreSQL.

Full-text search in place of the embedded engine's FTS5, answering the same queries the same
way: a query is reduced to the same plain words (``sqlite_knowledge.match_expression``'s rule:
``\\w+``, lower-cased, at most 32, each once); each word becomes a phrase query in the
``grace_english`` configuration (stemmed, no stop words dropped, as FTS5's ``porter`` tokenizer);
passages that have every word are found first and, when none has, those with any word. Hits are
ranked by ``ts_rank`` (term frequency, normalized by the passage's length; PostgreSQL has no
BM25), and the snippet is the passage's best fragment of at most 24 words with the matched words
in ``[brackets]`` and ``…`` where it was cut, as FTS5's ``snippet`` gives it. Guarantees as on
the embedded engine: ``add`` replaces the user's document of the same name with all its
passages in one transaction, and ``search`` sees only whole documents.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import asyncpg
import orjson

from grace_chat.learning.knowledge import Document, Hit
from grace_chat.store.backends.postgres_db import Conn, PostgresDatabase

_WORD = re.compile(r"\w+", re.UNICODE)
_EDGES = re.compile(r"^\W+|\W+$")
_CLOSING = re.compile(r"[^\w\s]*$")
_DOC_COLUMNS = (
    "document_id, user_id, name, kind, origin, sha256, size, chars, passages, trust, detail, "
    "task_id, created_at"
)
_HEADLINE = "StartSel=[, StopSel=], MaxWords=24, MinWords=12, ShortWord=0, MaxFragments=1"

#: The query: the words' phrase queries joined with ``&`` (every word) or ``|`` (any word);
#: only PostgreSQL's own output is parsed back, so no input is a syntax error.
_QUERY = (
    "SELECT string_agg('(' || w.q::text || ')', $2)::tsquery AS q FROM "
    "(SELECT phraseto_tsquery('grace_english', w) AS q FROM unnest($1::text[]) AS w) AS w "
    "WHERE w.q::text <> ''"
)


def query_words(query: str) -> list[str]:
    """The plain words of ``query`` a search looks for (as the embedded engine takes them)."""
    return list(dict.fromkeys(_WORD.findall(query.lower())[:32]))


def _document(row: asyncpg.Record) -> Document:
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


def snippet(headline: str, text: str) -> str:
    """``…`` before and after the fragment where it does not reach the passage's ends (the
    fragment ends on a word: punctuation after the passage's last word does not count)."""
    plain = _EDGES.sub("", headline.replace("[", "").replace("]", ""))
    whole = _EDGES.sub("", text)
    head = "" if whole.startswith(plain[:40]) else "…"
    # at the passage's end, the fragment keeps the passage's closing punctuation
    closing = _CLOSING.search(text.rstrip())
    ends = whole.endswith(plain[-40:])
    tail = (closing.group() if closing else "") if ends else "…"
    return f"{head}{headline.strip()}{tail}"


class PostgresKnowledgeStore:
    def __init__(self, db: PostgresDatabase) -> None:
        self.db = db

    async def open(self) -> None:
        """Nothing to do: the tables come with the database's schema versions."""

    async def add(self, document: Document, passages: Sequence[str]) -> Document:
        """Store ``document`` with ``passages``; replaces the user's document of the same name."""
        d = document

        async def body(conn: Conn) -> None:
            # passages go with their document (ON DELETE CASCADE)
            await conn.execute(
                "DELETE FROM knowledge_documents WHERE user_id = $1 AND name = $2",
                d.user_id,
                d.name,
            )
            await conn.execute(
                f"INSERT INTO knowledge_documents ({_DOC_COLUMNS}) "
                f"VALUES ({', '.join(f'${i}' for i in range(1, 14))})",
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
            )
            await conn.execute(
                "INSERT INTO knowledge_passages (document_id, ordinal, text) "
                "SELECT $1, o - 1, t FROM unnest($2::text[]) WITH ORDINALITY AS p (t, o)",
                d.document_id,
                list(passages),
            )

        await self.db.transaction(body)
        return document

    async def get(self, document_id: str) -> Document | None:
        row = await self.db.fetchrow(
            f"SELECT {_DOC_COLUMNS} FROM knowledge_documents WHERE document_id = $1", document_id
        )
        return _document(row) if row else None

    async def documents(self, user_id: str | None, limit: int = 100) -> list[Document]:
        """The user's documents (``None``: everyone's), newest first."""
        where, args = ("", []) if user_id is None else ("WHERE user_id = $2", [user_id])
        rows = await self.db.fetch(
            f"SELECT {_DOC_COLUMNS} FROM knowledge_documents {where} "
            "ORDER BY created_at DESC LIMIT $1",
            limit,
            *args,
        )
        return [_document(r) for r in rows]

    async def passages(self, document_id: str) -> list[str]:
        rows = await self.db.fetch(
            "SELECT text FROM knowledge_passages WHERE document_id = $1 ORDER BY ordinal",
            document_id,
        )
        return [r[0] for r in rows]

    async def search(self, query: str, user_id: str | None, limit: int = 10) -> list[Hit]:
        """Best passages for ``query`` (every word; if none has them all, any word), ranked by
        relevance, among the user's documents (``None``: everyone's)."""
        words = query_words(query)
        if not words:
            return []
        hits: list[Hit] = []
        for joiner in (" & ", " | "):
            hits = await self._search(words, joiner, user_id, limit)
            if hits:
                break
        return hits

    async def _search(
        self, words: list[str], joiner: str, user_id: str | None, limit: int
    ) -> list[Hit]:
        scope, args = ("", []) if user_id is None else ("AND d.user_id = $4", [user_id])
        rows = await self.db.fetch(
            f"WITH query AS ({_QUERY}), best AS ("
            "SELECT p.document_id, d.name, p.ordinal, p.text, d.trust, d.created_at, "
            "ts_rank(p.words, query.q, 1) AS rank "
            "FROM query, knowledge_passages AS p "
            "JOIN knowledge_documents AS d ON d.document_id = p.document_id "
            f"WHERE p.words @@ query.q {scope} "
            "ORDER BY rank DESC, d.created_at DESC, p.ordinal LIMIT $3) "
            "SELECT best.document_id, best.name, best.ordinal, "
            f"ts_headline('grace_english', best.text, query.q, '{_HEADLINE}'), best.rank, "
            "best.trust, best.text FROM best, query "
            "ORDER BY best.rank DESC, best.created_at DESC, best.ordinal",
            words,
            joiner,
            limit,
            *args,
        )
        return [Hit(r[0], r[1], r[2], snippet(r[3], r[6]), float(r[4]), float(r[5])) for r in rows]
