"""Embedded engine: the notification log in one SQLite file (WAL), for a single server process.

One writer thread owns the write connection and the per-user ``seq`` counters; every write runs
there, so ``seq`` assignment needs no locks. Appends that arrive while a transaction is being
written wait and go into the next one together (group commit): one fsync per batch, not per
notification. Reads run on a small pool of read-only connections, concurrently with writes.
A lock file keeps a second process from opening the same database, which would break ``seq``.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import sqlite3
import time
import uuid
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import orjson

from grace.notifications.model import Action, Draft, Notification, Severity, iso_utc_ts
from grace.store.backends.sqlite_db import SQLiteDatabase, transaction
from grace.store.base import CommitListener, LogHead, MarkReadResult

log = logging.getLogger("grace.store.sqlite")
T = TypeVar("T")

#: Most drafts written in one transaction; a larger burst takes several.
MAX_BATCH = 4096
PRUNE_EVERY_SECONDS = 300.0

SCHEMA_VERSION = "2"
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS user_log (
    user_id TEXT PRIMARY KEY,
    last_seq INTEGER NOT NULL,
    unread INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS notifications (
    user_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    id TEXT NOT NULL,
    type TEXT NOT NULL,
    title TEXT NOT NULL,
    message TEXT NOT NULL,
    badge TEXT NOT NULL,
    severity TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    created REAL NOT NULL,
    data BLOB NOT NULL,
    actions BLOB NOT NULL,
    read INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS notifications_user_seq ON notifications (user_id, seq);
CREATE INDEX IF NOT EXISTS notifications_created ON notifications (created);
"""
# Rows are appended in commit order to a rowid table (cheap), with one small index per user and
# seq; each user's unread count is kept in user_log rather than found by an index on every row.

#: Schema 1 kept rows in a (user_id, seq) B-tree with three more indexes; it is converted once.
MIGRATE_1_TO_2 = """
ALTER TABLE notifications RENAME TO notifications_v1;
DROP INDEX IF EXISTS notifications_id;
DROP INDEX IF EXISTS notifications_created;
DROP INDEX IF EXISTS notifications_unread;
ALTER TABLE user_log ADD COLUMN unread INTEGER NOT NULL DEFAULT 0;
"""
MIGRATE_1_TO_2_COPY = """
INSERT INTO notifications SELECT user_id, seq, id, type, title, message, badge, severity,
    timestamp, created, data, actions, read FROM notifications_v1 ORDER BY created;
UPDATE user_log SET unread = (SELECT COUNT(*) FROM notifications n
    WHERE n.user_id = user_log.user_id AND n.read = 0);
DROP TABLE notifications_v1;
"""

MIGRATE_BEFORE_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
)
_COLUMNS = "id, user_id, seq, type, message, badge, severity, title, timestamp, data, actions, read"


def _row(row: tuple[Any, ...]) -> Notification:
    return Notification(
        id=row[0],
        user_id=row[1],
        seq=row[2],
        type=row[3],
        message=row[4],
        badge=row[5],
        severity=Severity(row[6]),
        title=row[7],
        timestamp=row[8],
        data=orjson.loads(row[9]),
        actions=tuple(Action(a["id"], a["label"]) for a in orjson.loads(row[10])),
        read=bool(row[11]),
    )


def _forget_unread(conn: sqlite3.Connection, counts: list[tuple[str, int]]) -> None:
    """Unread notifications that retention removes no longer count as unread."""
    conn.executemany(
        "UPDATE user_log SET unread = MAX(0, unread - ?) WHERE user_id = ?",
        [(n, user) for user, n in counts if n],
    )


class SQLiteStore:
    """``NotificationStore`` on SQLite."""

    def __init__(
        self,
        path: Path,
        *,
        synchronous: str = "FULL",
        retention_count: int = 10_000,
        retention_days: float = 30.0,
    ) -> None:
        self.db = SQLiteDatabase(path, synchronous)
        self.epoch = ""
        self._retention_count = retention_count
        self._retention_seconds = retention_days * 86400.0
        self._listeners: list[CommitListener] = []
        self._pending: list[tuple[Sequence[Draft], asyncio.Future[list[Notification]]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._pruner: asyncio.Task[None] | None = None
        # Owned by the writer thread only.
        self._seq: dict[str, int] = {}
        #: Notification ids: 12 random hex digits drawn per process start, then a counter.
        prefix = uuid.uuid4().hex[:12]
        self._ids = (f"{prefix}{n:08x}" for n in itertools.count(1))
        self._dirty: set[str] | None = None  # None: every user needs pruning

    async def open(self) -> None:
        await self.db.open(MIGRATE_BEFORE_SCHEMA)
        await self.db.write(self._migrate)
        self.epoch = await self.db.write(self._load_epoch)
        await self.prune()
        self._pruner = asyncio.get_running_loop().create_task(self._prune_periodically())

    @staticmethod
    def _migrate(conn: sqlite3.Connection) -> None:
        found = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if found is not None and found[0] == "1":
            log.info("converting the notification log to schema 2")
            conn.executescript(f"BEGIN; {MIGRATE_1_TO_2} {SCHEMA} {MIGRATE_1_TO_2_COPY} COMMIT;")
        else:
            conn.executescript(SCHEMA)
        conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)",
            (SCHEMA_VERSION,),
        )

    @staticmethod
    def _load_epoch(conn: sqlite3.Connection) -> str:
        row = conn.execute("SELECT value FROM meta WHERE key = 'epoch'").fetchone()
        if row:
            return str(row[0])
        epoch = uuid.uuid4().hex[:16]
        conn.execute("INSERT INTO meta (key, value) VALUES ('epoch', ?)", (epoch,))
        return epoch

    async def close(self) -> None:
        if self._pruner is not None:
            self._pruner.cancel()
            await asyncio.gather(self._pruner, return_exceptions=True)
            self._pruner = None
        while self._flusher is not None and not self._flusher.done():
            await self._flusher
        await self.db.close()

    def add_commit_listener(self, listener: CommitListener) -> None:
        self._listeners.append(listener)

    # -- appends (group commit) ---------------------------------------------------------------

    async def append(self, drafts: Sequence[Draft]) -> list[Notification]:
        if not drafts:
            return []
        future: asyncio.Future[list[Notification]] = asyncio.get_running_loop().create_future()
        self._pending.append((drafts, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush())
        return await asyncio.shield(future)

    async def _flush(self) -> None:
        while self._pending:
            batch: list[tuple[Sequence[Draft], asyncio.Future[list[Notification]]]] = []
            size = 0
            while self._pending and (not batch or size + len(self._pending[0][0]) <= MAX_BATCH):
                item = self._pending.pop(0)
                batch.append(item)
                size += len(item[0])
            drafts = [d for group, _ in batch for d in group]
            try:
                stored = await self.db.write(partial(self._write, drafts=drafts))
            except Exception as exc:
                log.exception("appending %d notifications failed", len(drafts))
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for listener in self._listeners:
                try:
                    listener(stored)
                except Exception:
                    log.exception("commit listener failed")
            start = 0
            for group, future in batch:
                if not future.done():
                    future.set_result(stored[start : start + len(group)])
                start += len(group)

    def _write(self, conn: sqlite3.Connection, drafts: Sequence[Draft]) -> list[Notification]:
        seqs = self._seq
        touched: dict[str, int] = {}
        added: dict[str, int] = {}
        rows: list[tuple[Any, ...]] = []
        out: list[Notification] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for d in drafts:
                last = seqs.get(d.user_id)
                if last is None:
                    found = conn.execute(
                        "SELECT last_seq FROM user_log WHERE user_id = ?", (d.user_id,)
                    ).fetchone()
                    last = found[0] if found else 0
                seq = last + 1
                seqs[d.user_id] = touched[d.user_id] = seq
                added[d.user_id] = added.get(d.user_id, 0) + 1
                nid = next(self._ids)
                ts = iso_utc_ts(d.created)
                actions = [a.as_dict() for a in d.actions]
                rows.append(
                    (
                        d.user_id,
                        seq,
                        nid,
                        d.type,
                        d.title,
                        d.message,
                        d.badge,
                        d.severity.value,
                        ts,
                        d.created,
                        d.data_json if d.data_json is not None else orjson.dumps(d.data),
                        orjson.dumps(actions),
                    )
                )
                out.append(
                    Notification(
                        nid,
                        d.user_id,
                        seq,
                        d.type,
                        d.message,
                        d.badge,
                        d.severity,
                        d.title,
                        ts,
                        d.data,
                        d.actions,
                    )
                )
            conn.executemany(
                "INSERT INTO notifications (user_id, seq, id, type, title, message, badge, "
                "severity, timestamp, created, data, actions) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                rows,
            )
            conn.executemany(
                "INSERT INTO user_log (user_id, last_seq, unread) VALUES (?, ?, ?) "
                "ON CONFLICT (user_id) DO UPDATE SET last_seq = excluded.last_seq, "
                "unread = user_log.unread + excluded.unread",
                [(user, last, added[user]) for user, last in touched.items()],
            )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            for user_id in touched:
                seqs.pop(user_id, None)
            raise
        if self._dirty is not None:
            self._dirty.update(touched)
        return out

    # -- reads --------------------------------------------------------------------------------

    async def read_since(self, user_id: str, since: int, limit: int) -> list[Notification]:
        def run(conn: sqlite3.Connection) -> list[Notification]:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM notifications WHERE user_id = ? AND seq > ? "
                "ORDER BY seq LIMIT ?",
                (user_id, since, limit),
            ).fetchall()
            return [_row(r) for r in rows]

        return await self.db.read(run)

    async def read_latest(
        self, user_id: str, limit: int, before: int | None = None
    ) -> list[Notification]:
        def run(conn: sqlite3.Connection) -> list[Notification]:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM notifications WHERE user_id = ? AND seq < ? "
                "ORDER BY seq DESC LIMIT ?",
                (user_id, before if before is not None else 2**62, limit),
            ).fetchall()
            return [_row(r) for r in rows]

        return await self.db.read(run)

    async def head(self, user_id: str) -> LogHead:
        def run(conn: sqlite3.Connection) -> LogHead:
            found = conn.execute(
                "SELECT last_seq, unread FROM user_log WHERE user_id = ?", (user_id,)
            ).fetchone()
            last, unread = found if found else (0, 0)
            first = conn.execute(
                "SELECT MIN(seq) FROM notifications WHERE user_id = ?", (user_id,)
            ).fetchone()[0]
            return LogHead(
                seq=last, first_seq=first if first is not None else last + 1, unread=unread
            )

        return await self.db.read(run)

    # -- read state and retention -------------------------------------------------------------

    async def mark_read(
        self,
        user_id: str,
        *,
        ids: Sequence[str] | None = None,
        up_to_seq: int | None = None,
        everything: bool = False,
    ) -> MarkReadResult:
        def run(conn: sqlite3.Connection) -> MarkReadResult:
            def body(conn: sqlite3.Connection) -> MarkReadResult:
                marked = 0
                base = "UPDATE notifications SET read = 1 WHERE user_id = ? AND read = 0"
                if everything:
                    marked += conn.execute(base, (user_id,)).rowcount
                if up_to_seq is not None:
                    marked += conn.execute(f"{base} AND seq <= ?", (user_id, up_to_seq)).rowcount
                if ids:
                    unique = list(dict.fromkeys(ids))
                    marks = ",".join("?" * len(unique))
                    marked += conn.execute(
                        f"{base} AND id IN ({marks})", (user_id, *unique)
                    ).rowcount
                conn.execute(
                    "UPDATE user_log SET unread = MAX(0, unread - ?) WHERE user_id = ?",
                    (marked, user_id),
                )
                found = conn.execute(
                    "SELECT unread FROM user_log WHERE user_id = ?", (user_id,)
                ).fetchone()
                unread = found[0] if found else 0
                return MarkReadResult(marked=marked, unread=unread)

            return transaction(conn, body)

        return await self.db.write(run)

    async def prune(self) -> int:
        return await self.db.write(self._prune)

    def _prune(self, conn: sqlite3.Connection) -> int:
        def body(conn: sqlite3.Connection) -> int:
            cutoff = time.time() - self._retention_seconds
            _forget_unread(
                conn,
                conn.execute(
                    "SELECT user_id, COUNT(*) FROM notifications WHERE created < ? AND read = 0 "
                    "GROUP BY user_id",
                    (cutoff,),
                ).fetchall(),
            )
            removed = conn.execute(
                "DELETE FROM notifications WHERE created < ?", (cutoff,)
            ).rowcount
            keep = self._retention_count
            if self._dirty is None:
                users = conn.execute(
                    "SELECT user_id, last_seq FROM user_log WHERE last_seq > ?", (keep,)
                ).fetchall()
            else:
                users = [(u, self._seq[u]) for u in self._dirty if self._seq.get(u, 0) > keep]
            for user_id, last in users:
                unread = conn.execute(
                    "SELECT COUNT(*) FROM notifications WHERE user_id = ? AND seq <= ? "
                    "AND read = 0",
                    (user_id, last - keep),
                ).fetchone()[0]
                _forget_unread(conn, [(user_id, unread)])
                removed += conn.execute(
                    "DELETE FROM notifications WHERE user_id = ? AND seq <= ?",
                    (user_id, last - keep),
                ).rowcount
            return removed

        removed = transaction(conn, body)
        self._dirty = set()
        if removed:
            log.info("retention removed %d notifications", removed)
        return removed

    async def _prune_periodically(self) -> None:
        while True:
            await asyncio.sleep(PRUNE_EVERY_SECONDS)
            try:
                await self.prune()
            except Exception:
                log.exception("retention pass failed")
