"""Embedded engine: the notification log in one SQLite file (WAL), for a single server process.

One writer thread owns the write connection and the per-user ``seq`` counters; every write runs
there, so ``seq`` assignment needs no locks. Appends that arrive while a transaction is being
written wait and go into the next one together (group commit): one fsync per batch, not per
notification. Reads run on a small pool of read-only connections, concurrently with writes.
A lock file keeps a second process from opening the same database, which would break ``seq``.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
import uuid
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import orjson

from grace_chat.errors import StoreUnavailable
from grace_chat.metrics import Metrics
from grace_chat.notifications.model import (
    Action,
    Draft,
    Notification,
    Posted,
    Replayed,
    Severity,
    encode_tail,
    iso_utc_ts,
)
from grace_chat.notifications.store import CommitListener, LogHead, MarkReadResult
from grace_chat.store.backends.group_commit import GroupCommit
from grace_chat.store.backends.sqlite_db import SQLiteDatabase, transaction
from grace_chat.store.backends.sqlite_replay import replay_page
from grace_chat.store.backends.sqlite_schema import BEFORE_SCHEMA, body_id, migrate, parse_body_id

log = logging.getLogger("grace_chat.store.sqlite")
T = TypeVar("T")

#: Most recipients written in one transaction; a larger burst takes several.
#: SQLite's largest INTEGER. Positions beyond it (from library callers; the protocol and REST
#: refuse them) are clamped to it: every ``seq`` is below it anyway.
MAX_INTEGER = 2**63 - 1
PRUNE_EVERY_SECONDS = 300.0

_SELECT = (
    "SELECT b.body, b.legacy_id, e.user_id, e.seq, b.type, b.message, b.badge, b.severity, "
    "b.title, b.timestamp, b.data, b.actions, e.read FROM entries e JOIN bodies b USING (body)"
)


def _row(row: tuple[Any, ...]) -> Notification:
    return Notification(
        id=row[1] or body_id(row[0]),
        user_id=row[2],
        seq=row[3],
        type=row[4],
        message=row[5],
        badge=row[6],
        severity=Severity(row[7]),
        title=row[8],
        timestamp=row[9],
        data=orjson.loads(row[10]),
        actions=tuple(Action(a["id"], a["label"]) for a in orjson.loads(row[11])),
        read=bool(row[12]),
    )


def _forget_unread(conn: sqlite3.Connection, counts: list[tuple[str, int]]) -> None:
    """Unread notifications that retention removes no longer count as unread."""
    conn.executemany(
        "UPDATE user_log SET unread = MAX(0, unread - ?) WHERE user_id = ?",
        [(n, user) for user, n in counts if n],
    )


def _drop_unused_bodies(conn: sqlite3.Connection, candidates: set[int]) -> None:
    """Of ``candidates`` (bodies some removed entries used), those no entry uses any more: the
    cost follows what retention removed, not the size of the log."""
    conn.executemany(
        "DELETE FROM bodies WHERE body = ? AND NOT EXISTS "
        "(SELECT 1 FROM entries e WHERE e.body = ?)",
        [(b, b) for b in candidates],
    )


class SQLiteNotificationLog:
    """``NotificationStore`` on SQLite."""

    def __init__(
        self,
        path: Path,
        *,
        synchronous: str = "FULL",
        cache_mib: int = 64,
        commit_window: float = 0.0,
        retention_count: int = 10_000,
        retention_days: float = 30.0,
        metrics: Metrics | None = None,
    ) -> None:
        self.db = SQLiteDatabase(path, synchronous, cache_mib=cache_mib)
        self.epoch = ""
        self._retention_count = retention_count
        self._retention_seconds = retention_days * 86400.0
        self._commits = GroupCommit(
            lambda drafts: self.db.write(partial(self._write, drafts=drafts)),
            metrics,
            window=commit_window,
        )
        self._pruner: asyncio.Task[None] | None = None
        # Owned by the writer thread only.
        self._seq: dict[str, int] = {}
        self._last_body = 0
        self._dirty: set[str] | None = None  # None: every user needs pruning

    async def open(self) -> None:
        await self.db.open(BEFORE_SCHEMA)
        try:
            await self.db.write(partial(migrate, where=str(self.db.path)))
            self.epoch, self._last_body = await self.db.write(self._load_meta)
            await self.prune()
        except BaseException:
            await self.db.close()
            raise
        self._pruner = asyncio.get_running_loop().create_task(self._prune_periodically())

    @staticmethod
    def _load_meta(conn: sqlite3.Connection) -> tuple[str, int]:
        row = conn.execute("SELECT value FROM meta WHERE key = 'epoch'").fetchone()
        if row:
            epoch = str(row[0])
        else:
            epoch = uuid.uuid4().hex[:16]
            conn.execute("INSERT INTO meta (key, value) VALUES ('epoch', ?)", (epoch,))
        # Body numbers (and so ids) are never reused, even once retention emptied the table.
        kept = conn.execute("SELECT value FROM meta WHERE key = 'last_body'").fetchone()
        top = conn.execute("SELECT MAX(body) FROM bodies").fetchone()[0]
        return epoch, max(int(kept[0]) if kept else 0, top or 0)

    async def close(self) -> None:
        if self._pruner is not None:
            self._pruner.cancel()
            await asyncio.gather(self._pruner, return_exceptions=True)
            self._pruner = None
        await self._commits.drain()
        await self.db.close()

    def add_commit_listener(self, listener: CommitListener) -> None:
        self._commits.add_listener(listener)

    # -- appends (group commit) ---------------------------------------------------------------

    async def append(self, drafts: Sequence[Draft]) -> list[Posted]:
        return await self._commits.append(drafts)

    async def _write_batch(self, drafts: list[Draft]) -> list[Posted]:
        return await self.db.write(partial(self._write, drafts=drafts))

    def _write(self, conn: sqlite3.Connection, drafts: Sequence[Draft]) -> list[Posted]:
        seqs = self._seq
        touched: dict[str, int] = {}
        added: dict[str, int] = {}
        bodies: list[tuple[Any, ...]] = []
        entries: list[tuple[str, int, int]] = []
        out: list[Posted] = []
        body = self._last_body
        try:
            conn.execute("BEGIN IMMEDIATE")
            self._load_seqs(conn, {u for d in drafts for u in d.recipients if u not in seqs})
            for d in drafts:
                body += 1
                ts = iso_utc_ts(d.created)
                nid = body_id(body)
                data = d.data_json if d.data_json is not None else orjson.dumps(d.data)
                tail = encode_tail(d, nid, ts, data)
                bodies.append(
                    (
                        body,
                        d.type,
                        d.title,
                        d.message,
                        d.badge,
                        d.severity.value,
                        ts,
                        d.created,
                        data,
                        orjson.dumps([a.as_dict() for a in d.actions]),
                        tail,
                    )
                )
                got: list[int] = []
                for user in d.recipients:
                    last = seqs[user] + 1
                    seqs[user] = touched[user] = last
                    added[user] = added.get(user, 0) + 1
                    entries.append((user, last, body))
                    got.append(last)
                out.append(Posted(d, nid, ts, tuple(got), tail))
            conn.executemany(
                "INSERT INTO bodies (body, type, title, message, badge, severity, timestamp, "
                "created, data, actions, frame) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                bodies,
            )
            conn.executemany("INSERT INTO entries (user_id, seq, body) VALUES (?,?,?)", entries)
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
        self._last_body = body
        if self._dirty is not None:
            self._dirty.update(touched)
        return out

    def _load_seqs(self, conn: sqlite3.Connection, users: set[str]) -> None:
        """Each user's last ``seq`` from ``user_log`` (0 for a new user), a chunk at a time."""
        pending = list(users)
        for start in range(0, len(pending), 500):
            chunk = pending[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found = dict(
                conn.execute(
                    f"SELECT user_id, last_seq FROM user_log WHERE user_id IN ({marks})", chunk
                ).fetchall()
            )
            for user in chunk:
                self._seq[user] = found.get(user, 0)

    # -- reads --------------------------------------------------------------------------------

    async def read_since(self, user_id: str, since: int, limit: int) -> list[Notification]:
        def run(conn: sqlite3.Connection) -> list[Notification]:
            rows = conn.execute(
                f"{_SELECT} WHERE e.user_id = ? AND e.seq > ? ORDER BY e.seq LIMIT ?",
                (user_id, min(since, MAX_INTEGER), limit),
            ).fetchall()
            return [_row(r) for r in rows]

        return await self.db.read(run)

    async def replay(self, user_id: str, since: int, limit: int) -> list[Replayed]:
        # on the loop's own connection: a page of one user's entries by the primary key
        # (``SQLiteDatabase.read_here``)
        page = partial(replay_page, user_id=user_id, since=min(since, MAX_INTEGER), limit=limit)
        return self.db.read_here(page)

    async def read_latest(
        self, user_id: str, limit: int, before: int | None = None
    ) -> list[Notification]:
        def run(conn: sqlite3.Connection) -> list[Notification]:
            rows = conn.execute(
                f"{_SELECT} WHERE e.user_id = ? AND e.seq < ? ORDER BY e.seq DESC LIMIT ?",
                (user_id, MAX_INTEGER if before is None else min(before, MAX_INTEGER), limit),
            ).fetchall()
            return [_row(r) for r in rows]

        return await self.db.read(run)

    async def head(self, user_id: str) -> LogHead:
        # one statement, so one snapshot: the counter and the oldest entry agree; on the loop's
        # own connection (two lookups by key, ``SQLiteDatabase.read_here``)
        def run(conn: sqlite3.Connection) -> LogHead:
            last, unread, first = conn.execute(
                "SELECT (SELECT last_seq FROM user_log WHERE user_id = ?1), "
                "(SELECT unread FROM user_log WHERE user_id = ?1), "
                "(SELECT MIN(seq) FROM entries WHERE user_id = ?1)",
                (user_id,),
            ).fetchone()
            last, unread = last or 0, unread or 0
            return LogHead(
                seq=last, first_seq=first if first is not None else last + 1, unread=unread
            )

        return self.db.read_here(run)

    # -- read state and retention -------------------------------------------------------------

    async def mark_read(
        self,
        user_id: str,
        *,
        ids: Sequence[str] | None = None,
        up_to_seq: int | None = None,
        everything: bool = False,
    ) -> MarkReadResult:
        def body(conn: sqlite3.Connection) -> MarkReadResult:
            marked = 0
            base = "UPDATE entries SET read = 1 WHERE user_id = ? AND read = 0"
            if everything:
                marked += conn.execute(base, (user_id,)).rowcount
            if up_to_seq is not None:
                marked += conn.execute(
                    f"{base} AND seq <= ?", (user_id, min(up_to_seq, MAX_INTEGER))
                ).rowcount
            if ids:
                unique = list(dict.fromkeys(ids))
                numbers = [n for n in map(parse_body_id, unique) if n is not None]
                legacy = [i for i in unique if parse_body_id(i) is None]
                if numbers:
                    marks = ",".join("?" * len(numbers))
                    marked += conn.execute(
                        f"{base} AND body IN ({marks})", (user_id, *numbers)
                    ).rowcount
                if legacy:
                    marks = ",".join("?" * len(legacy))
                    marked += conn.execute(
                        f"{base} AND body IN (SELECT body FROM bodies WHERE legacy_id IN "
                        f"({marks}))",
                        (user_id, *legacy),
                    ).rowcount
            conn.execute(
                "UPDATE user_log SET unread = MAX(0, unread - ?) WHERE user_id = ?",
                (marked, user_id),
            )
            found = conn.execute(
                "SELECT unread FROM user_log WHERE user_id = ?", (user_id,)
            ).fetchone()
            return MarkReadResult(marked=marked, unread=found[0] if found else 0)

        return await self.db.write(lambda conn: transaction(conn, body))

    async def prune(self) -> int:
        return await self.db.write(self._prune)

    def _prune(self, conn: sqlite3.Connection) -> int:
        def body(conn: sqlite3.Connection) -> int:
            # Body numbers (and so ids) are never reused: the highest one given so far is kept
            # here, where bodies may be deleted, not by every append (``_load_meta``).
            conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('last_body', ?)",
                (str(self._last_body),),
            )
            # Age: whatever was created before the cutoff, with its body.
            cutoff = time.time() - self._retention_seconds
            old = "SELECT body FROM bodies WHERE created < ?"
            _forget_unread(
                conn,
                conn.execute(
                    f"SELECT user_id, COUNT(*) FROM entries WHERE body IN ({old}) AND read = 0 "
                    "GROUP BY user_id",
                    (cutoff,),
                ).fetchall(),
            )
            removed = conn.execute(f"DELETE FROM entries WHERE body IN ({old})", (cutoff,)).rowcount
            conn.execute("DELETE FROM bodies WHERE created < ?", (cutoff,))
            unused: set[int] = set()  # bodies whose entries this pass removed
            # Count: each user keeps the newest ``retention_count``.
            keep = self._retention_count
            if self._dirty is None:
                users = conn.execute(
                    "SELECT user_id, last_seq FROM user_log WHERE last_seq > ?", (keep,)
                ).fetchall()
            else:
                users = [(u, self._seq[u]) for u in self._dirty if self._seq.get(u, 0) > keep]
            for user_id, last in users:
                gone = conn.execute(
                    "SELECT body, read FROM entries WHERE user_id = ? AND seq <= ?",
                    (user_id, last - keep),
                ).fetchall()
                if not gone:
                    continue
                _forget_unread(conn, [(user_id, sum(1 for _, read in gone if not read))])
                removed += conn.execute(
                    "DELETE FROM entries WHERE user_id = ? AND seq <= ?",
                    (user_id, last - keep),
                ).rowcount
                unused.update(b for b, _ in gone)
            _drop_unused_bodies(conn, unused)
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
            except StoreUnavailable:
                pass  # logged once per episode by the database
            except Exception:
                log.exception("retention pass failed")

    # -- readiness ----------------------------------------------------------------------------

    async def writable(self) -> None:
        """Return when a write can succeed now; raise ``StoreUnavailable`` saying why not (the
        disk is full, the data directory is read-only or gone)."""
        await self.db.probe()
