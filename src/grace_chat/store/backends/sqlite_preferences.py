"""Embedded engine: each person's notification preferences (modes per type, archived cards) in the
shared SQLite file.

Modes are read on every greeting that may summarize an absence, so this engine (one process per
database file) keeps them all in memory as well: the table holds only the choices that differ from
the default, and every change is written before the memory copy changes.

An archive mark is kept by the user and the ``seq`` of the notification in that user's log, which
is how the log's ``entries`` table names it, so "is it this user's?" is one lookup in the same
database, and a mark whose notification retention removed is simply no longer found (such marks
are swept when the user next archives something).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence

from grace_chat.notifications.preferences import ARCHIVED_LIMIT, DEFAULT_MODE, ArchiveResult, Mode
from grace_chat.store.backends.sqlite_db import SQLiteDatabase, transaction
from grace_chat.store.backends.sqlite_schema import parse_body_id

SCHEMA = """
CREATE TABLE IF NOT EXISTS notification_modes (
    user_id TEXT NOT NULL,
    type TEXT NOT NULL,
    mode TEXT NOT NULL,
    PRIMARY KEY (user_id, type)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS archived_notifications (
    user_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    id TEXT NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (user_id, seq)
) WITHOUT ROWID;
"""

_BY_BODY = "SELECT seq FROM entries WHERE body = ? AND user_id = ?"
_BY_LEGACY_ID = (
    "SELECT e.seq FROM bodies b JOIN entries e ON e.body = b.body "
    "WHERE b.legacy_id = ? AND e.user_id = ?"
)


def _seq_of(conn: sqlite3.Connection, user_id: str, nid: str) -> int | None:
    """Where notification ``nid`` sits in ``user_id``'s log; ``None`` when it is not there."""
    body = parse_body_id(nid)
    row = conn.execute(
        _BY_BODY if body is not None else _BY_LEGACY_ID,
        (body if body is not None else nid, user_id),
    ).fetchone()
    return None if row is None else int(row[0])


class SQLitePreferenceStore:
    def __init__(self, db: SQLiteDatabase) -> None:
        self.db = db
        self._modes: dict[str, dict[str, Mode]] = {}

    async def open(self) -> None:
        def run(conn: sqlite3.Connection) -> list[tuple[str, str, Mode]]:
            conn.executescript(SCHEMA)
            return conn.execute(
                "SELECT user_id, type, mode FROM notification_modes ORDER BY user_id, type"
            ).fetchall()

        self._modes = {}
        for user_id, kind, mode in await self.db.write(run):
            self._modes.setdefault(user_id, {})[kind] = mode

    async def modes(self, user_id: str) -> dict[str, Mode]:
        return dict(self._modes.get(user_id, {}))

    async def set_mode(self, user_id: str, notification_type: str, mode: Mode) -> None:
        def run(conn: sqlite3.Connection) -> None:
            if mode == DEFAULT_MODE:
                conn.execute(
                    "DELETE FROM notification_modes WHERE user_id = ? AND type = ?",
                    (user_id, notification_type),
                )
            else:
                conn.execute(
                    "INSERT OR REPLACE INTO notification_modes (user_id, type, mode) "
                    "VALUES (?, ?, ?)",
                    (user_id, notification_type, mode),
                )

        await self.db.write(run)
        mine = self._modes.setdefault(user_id, {})
        if mode == DEFAULT_MODE:
            mine.pop(notification_type, None)
        else:
            mine[notification_type] = mode
        mine = dict(sorted(mine.items()))
        if mine:
            self._modes[user_id] = mine
        else:
            del self._modes[user_id]

    async def archive(self, user_id: str, ids: Sequence[str], archived: bool) -> ArchiveResult:
        wanted = list(dict.fromkeys(ids))

        def body(conn: sqlite3.Connection) -> ArchiveResult:
            found = {nid: _seq_of(conn, user_id, nid) for nid in wanted}
            unknown = tuple(nid for nid, seq in found.items() if seq is None)
            if unknown:
                return ArchiveResult(unknown=unknown)
            changed: list[str] = []
            now = time.time()
            for nid, seq in found.items():
                if archived:
                    cur = conn.execute(
                        "INSERT OR IGNORE INTO archived_notifications (user_id, seq, id, at) "
                        "VALUES (?, ?, ?, ?)",
                        (user_id, seq, nid, now),
                    )
                else:
                    cur = conn.execute(
                        "DELETE FROM archived_notifications WHERE user_id = ? AND seq = ?",
                        (user_id, seq),
                    )
                if cur.rowcount:
                    changed.append(nid)
            # marks of notifications retention removed since
            conn.execute(
                "DELETE FROM archived_notifications WHERE user_id = ? AND NOT EXISTS "
                "(SELECT 1 FROM entries e WHERE e.user_id = archived_notifications.user_id "
                "AND e.seq = archived_notifications.seq)",
                (user_id,),
            )
            return ArchiveResult(changed=tuple(changed))

        return await self.db.write(lambda conn: transaction(conn, body))

    async def archived(self, user_id: str, limit: int = ARCHIVED_LIMIT) -> list[str]:
        def run(conn: sqlite3.Connection) -> list[str]:
            rows = conn.execute(
                "SELECT a.id FROM archived_notifications a JOIN entries e "
                "ON e.user_id = a.user_id AND e.seq = a.seq "
                "WHERE a.user_id = ? ORDER BY a.seq DESC LIMIT ?",
                (user_id, limit),
            ).fetchall()
            return [r[0] for r in rows]

        return await self.db.read(run)
