"""Shared engine: the notification log in PostgreSQL, for one process or several.

Each user's ``seq`` counter is a row of ``user_log``. An append transaction first moves the
counters of every user in its batch forward by as many notifications as the batch gives each
(``INSERT … ON CONFLICT DO UPDATE … RETURNING``, in user order so that two transactions never
wait for each other in a circle), then inserts the bodies and the entries numbered from the
returned counters, then commits. The counter row stays locked until the commit, so a user's next
``seq`` is handed out only once the previous one is committed and visible: in every user's log
``seq`` order is commit order, whichever process appended, and a reader that has seen ``seq`` N
has seen everything below it. No process keeps counters in memory.

Within a process, appends that arrive while a transaction is being written wait and go into the
next one together (group commit), on the process's own session connection; commit listeners see
this process's batches in commit order. Reads use the pool and see only committed rows.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg
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
    iso_utc_ts,
)
from grace_chat.notifications.store import CommitListener, LogHead, MarkReadResult
from grace_chat.store.backends.group_commit import GroupCommit
from grace_chat.store.backends.postgres_db import (
    RETRIES,
    RETRYABLE,
    Conn,
    PostgresDatabase,
    affected,
)

log = logging.getLogger("grace_chat.store.postgres")

#: Most recipients written in one transaction; a larger burst takes several.
PRUNE_EVERY_SECONDS = 300.0
#: Users whose entries one retention transaction removes (their counter rows stay locked).
PRUNE_CHUNK = 500
#: Held by the process applying retention; the others skip their pass meanwhile.
PRUNE_LOCK = 0x67726163_65707275  # "gracepru"

#: Move each user's counter forward by the count given; returns ``(user_id, last_seq)``.
RESERVE = (
    "INSERT INTO user_log (user_id, last_seq, unread) "
    "SELECT u, n, n FROM unnest($1::text[], $2::bigint[]) AS t (u, n) ORDER BY u "
    "ON CONFLICT (user_id) DO UPDATE SET last_seq = user_log.last_seq + excluded.last_seq, "
    "unread = user_log.unread + excluded.unread "
    "RETURNING user_id, last_seq"
)
BODY_NUMBERS = "SELECT nextval('body_numbers') FROM generate_series(1, $1)"
INSERT = (
    "WITH b AS (INSERT INTO bodies (body, type, title, message, badge, severity, timestamp, "
    "created, data, actions) SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], "
    "$4::text[], $5::text[], $6::text[], $7::text[], $8::float8[], $9::bytea[], $10::bytea[])) "
    "INSERT INTO entries (user_id, seq, body) "
    "SELECT * FROM unnest($11::text[], $12::bigint[], $13::bigint[])"
)
_SELECT = (
    "SELECT b.body, e.user_id, e.seq, b.type, b.message, b.badge, b.severity, b.title, "
    "b.timestamp, b.data, b.actions, e.read FROM entries e JOIN bodies b USING (body)"
)


def body_id(body: int) -> str:
    """The id of the notification stored as body number ``body`` (as on the embedded engine)."""
    return f"n{body}"


def parse_body_id(nid: str) -> int | None:
    if nid.startswith("n") and nid[1:].isdigit() and len(nid) < 20:
        return int(nid[1:])
    return None


def _row(row: asyncpg.Record) -> Notification:
    return Notification(
        id=body_id(row[0]),
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
        read=row[11],
    )


class PostgresNotificationLog:
    """``NotificationStore`` on PostgreSQL."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        retention_count: int = 10_000,
        retention_days: float = 30.0,
        metrics: Metrics | None = None,
    ) -> None:
        self.db = PostgresDatabase(url, pool_size)
        self.epoch = ""
        self._retention_count = retention_count
        self._retention_seconds = retention_days * 86400.0
        self._commits = GroupCommit(self._write_retrying, metrics)
        self._pruner: asyncio.Task[None] | None = None
        self._dirty: set[str] | None = None  # users this process appended to; None: everyone

    async def open(self) -> None:
        await self.db.open()
        try:
            fresh = uuid.uuid4().hex[:16]
            await self.db.execute(
                "INSERT INTO meta (key, value) VALUES ('epoch', $1) ON CONFLICT DO NOTHING", fresh
            )
            self.epoch = await self.db.fetchval("SELECT value FROM meta WHERE key = 'epoch'")
            await self.prune()
        except BaseException:
            await self.db.close()
            raise
        self._pruner = asyncio.get_running_loop().create_task(self._prune_periodically())

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

    async def _write_retrying(self, drafts: Sequence[Draft]) -> list[Posted]:
        attempt = 0
        while True:
            conn = await self.db.session()
            try:
                return await self._write(conn, drafts)
            except RETRYABLE:
                attempt += 1
                if attempt >= RETRIES:
                    raise

    async def _write(self, conn: Conn, drafts: Sequence[Draft]) -> list[Posted]:
        tally: dict[str, int] = {}
        for d in drafts:
            for user in d.recipients:
                tally[user] = tally.get(user, 0) + 1
        users = sorted(tally)
        async with conn.transaction():
            reserved = await conn.fetch(RESERVE, users, [tally[u] for u in users])
            numbers = sorted(r[0] for r in await conn.fetch(BODY_NUMBERS, len(drafts)))
            nxt = {r[0]: r[1] - tally[r[0]] + 1 for r in reserved}
            columns: list[list[Any]] = [[] for _ in range(13)]
            (bodies, types, titles, messages, badges, severities, stamps, created, data, actions,
             e_users, e_seqs, e_bodies) = columns  # fmt: skip
            out: list[Posted] = []
            for d, body in zip(drafts, numbers, strict=True):
                ts = iso_utc_ts(d.created)
                bodies.append(body)
                types.append(d.type)
                titles.append(d.title)
                messages.append(d.message)
                badges.append(d.badge)
                severities.append(d.severity.value)
                stamps.append(ts)
                created.append(d.created)
                data.append(d.data_json if d.data_json is not None else orjson.dumps(d.data))
                actions.append(orjson.dumps([a.as_dict() for a in d.actions]))
                got: list[int] = []
                for user in d.recipients:
                    seq = nxt[user]
                    nxt[user] = seq + 1
                    e_users.append(user)
                    e_seqs.append(seq)
                    e_bodies.append(body)
                    got.append(seq)
                out.append(Posted(d, body_id(body), ts, tuple(got)))
            await conn.execute(INSERT, *columns)
        if self._dirty is not None:
            self._dirty.update(users)
        return out

    # -- reads --------------------------------------------------------------------------------

    async def read_since(self, user_id: str, since: int, limit: int) -> list[Notification]:
        rows = await self.db.fetch(
            f"{_SELECT} WHERE e.user_id = $1 AND e.seq > $2 ORDER BY e.seq LIMIT $3",
            user_id,
            since,
            limit,
        )
        return [_row(r) for r in rows]

    async def replay(self, user_id: str, since: int, limit: int) -> list[Replayed]:
        return [Replayed.of(n) for n in await self.read_since(user_id, since, limit)]

    async def read_latest(
        self, user_id: str, limit: int, before: int | None = None
    ) -> list[Notification]:
        rows = await self.db.fetch(
            f"{_SELECT} WHERE e.user_id = $1 AND e.seq < $2 ORDER BY e.seq DESC LIMIT $3",
            user_id,
            before if before is not None else 2**62,
            limit,
        )
        return [_row(r) for r in rows]

    async def head(self, user_id: str) -> LogHead:
        # one statement, so one snapshot: the counter and the oldest entry agree
        row = await self.db.fetchrow(
            "SELECT (SELECT last_seq FROM user_log WHERE user_id = $1), "
            "(SELECT unread FROM user_log WHERE user_id = $1), "
            "(SELECT MIN(seq) FROM entries WHERE user_id = $1)",
            user_id,
        )
        assert row is not None
        last, unread, first = row[0] or 0, row[1] or 0, row[2]
        return LogHead(seq=last, first_seq=first if first is not None else last + 1, unread=unread)

    # -- read state and retention -------------------------------------------------------------

    async def mark_read(
        self,
        user_id: str,
        *,
        ids: Sequence[str] | None = None,
        up_to_seq: int | None = None,
        everything: bool = False,
    ) -> MarkReadResult:
        numbers = [n for n in map(parse_body_id, dict.fromkeys(ids or ())) if n is not None]

        async def body(conn: Conn) -> MarkReadResult:
            # the counter row first, as appends and retention take it: no circular waits
            unread = await conn.fetchval(
                "SELECT unread FROM user_log WHERE user_id = $1 FOR UPDATE", user_id
            )
            if unread is None:
                return MarkReadResult(marked=0, unread=0)
            base = "UPDATE entries SET read = true WHERE user_id = $1 AND NOT read"
            marked = 0
            if everything:
                marked += affected(await conn.execute(base, user_id))
            if up_to_seq is not None:
                marked += affected(await conn.execute(f"{base} AND seq <= $2", user_id, up_to_seq))
            if numbers:
                marked += affected(
                    await conn.execute(f"{base} AND body = ANY($2::bigint[])", user_id, numbers)
                )
            left = await conn.fetchval(
                "UPDATE user_log SET unread = GREATEST(0, unread - $2) WHERE user_id = $1 "
                "RETURNING unread",
                user_id,
                marked,
            )
            return MarkReadResult(marked=marked, unread=int(left))

        return await self.db.transaction(body)

    async def prune(self) -> int:
        """One retention pass. Only one process prunes at a time; a process that finds another
        pruning skips its pass (its users stay marked for the next one)."""
        cutoff = time.time() - self._retention_seconds
        keep = self._retention_count
        dirty, self._dirty = self._dirty, set()
        try:
            removed = await self._prune(cutoff, keep, dirty)
        except BaseException:
            self._dirty = None if dirty is None else dirty | self._dirty
            raise
        if removed is None:  # another process is pruning
            self._dirty = None if dirty is None else dirty | self._dirty
            return 0
        if removed:
            log.info("retention removed %d notifications", removed)
        return removed

    async def _prune(self, cutoff: float, keep: int, dirty: set[str] | None) -> int | None:
        async with self.db.pool.acquire() as conn:
            if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", PRUNE_LOCK):
                return None
            try:
                aged = {
                    r[0]
                    for r in await conn.fetch(
                        "SELECT DISTINCT e.user_id FROM bodies b JOIN entries e USING (body) "
                        "WHERE b.created < $1",
                        cutoff,
                    )
                }
                if dirty is None:
                    rows = await conn.fetch(
                        "SELECT u.user_id FROM user_log u WHERE u.last_seq > $1 AND EXISTS "
                        "(SELECT 1 FROM entries e WHERE e.user_id = u.user_id "
                        "AND e.seq <= u.last_seq - $1)",
                        keep,
                    )
                    counted = {r[0] for r in rows}
                else:
                    counted = set(dirty)
                users = sorted(aged | counted)
                removed = 0
                for start in range(0, len(users), PRUNE_CHUNK):
                    chunk = users[start : start + PRUNE_CHUNK]
                    removed += await self._prune_users(conn, chunk, cutoff, keep)
                return removed
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", PRUNE_LOCK)

    @staticmethod
    async def _prune_users(conn: Conn, users: list[str], cutoff: float, keep: int) -> int:
        attempt = 0
        while True:
            try:
                async with conn.transaction():
                    # counter rows first, in user order, as appends take them
                    await conn.execute(
                        "SELECT 1 FROM user_log WHERE user_id = ANY($1::text[]) "
                        "ORDER BY user_id FOR UPDATE",
                        users,
                    )
                    gone = await conn.fetch(
                        "DELETE FROM entries e USING user_log u "
                        "WHERE u.user_id = ANY($1::text[]) AND e.user_id = u.user_id "
                        "AND (e.seq <= u.last_seq - $2 OR e.body IN "
                        "(SELECT body FROM bodies WHERE created < $3)) "
                        "RETURNING e.user_id, e.read, e.body",
                        users,
                        keep,
                        cutoff,
                    )
                    if not gone:
                        return 0
                    unread: dict[str, int] = {}
                    for user, read, _ in gone:
                        if not read:
                            unread[user] = unread.get(user, 0) + 1
                    await conn.execute(
                        "UPDATE user_log u SET unread = GREATEST(0, u.unread - d.n) "
                        "FROM unnest($1::text[], $2::bigint[]) AS d (user_id, n) "
                        "WHERE u.user_id = d.user_id",
                        list(unread),
                        list(unread.values()),
                    )
                    # bodies whose last entry went: the cost follows what was removed
                    await conn.execute(
                        "DELETE FROM bodies b WHERE b.body = ANY($1::bigint[]) AND NOT EXISTS "
                        "(SELECT 1 FROM entries e WHERE e.body = b.body)",
                        list({r[2] for r in gone}),
                    )
                    return len(gone)
            except RETRYABLE:
                attempt += 1
                if attempt >= RETRIES:
                    raise

    async def _prune_periodically(self) -> None:
        while True:
            await asyncio.sleep(PRUNE_EVERY_SECONDS)
            try:
                await self.prune()
            except Exception:
                log.exception("retention pass failed")

    # -- readiness ----------------------------------------------------------------------------

    async def writable(self) -> None:
        """Return when the database answers; raise ``StoreUnavailable`` when it cannot be
        reached or refuses (the readiness check)."""
        try:
            await self.db.fetchval("SELECT 1")
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise StoreUnavailable(
                f"Grace cannot reach its database ({type(exc).__name__}). Try again later."
            ) from exc
