"""Shared engine: each person's notification preferences (modes per type, archived cards) in
PostgreSQL.

Several processes share the database, so nothing is kept in memory: modes are read when a
greeting needs them. The table holds only the choices that differ from the default. An archive
mark is kept by the user and the ``seq`` of the notification in that user's log; marks whose
notification retention removed are swept when the user next archives something.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from grace_chat.notifications.preferences import ARCHIVED_LIMIT, DEFAULT_MODE, ArchiveResult, Mode
from grace_chat.store.backends.postgres_db import Conn, PostgresDatabase
from grace_chat.store.backends.postgres_notifications import parse_body_id


class PostgresPreferenceStore:
    def __init__(self, db: PostgresDatabase) -> None:
        self.db = db

    async def open(self) -> None:
        """Nothing to do: the tables come with the database's schema versions."""

    async def modes(self, user_id: str) -> dict[str, Mode]:
        rows = await self.db.fetch(
            "SELECT type, mode FROM notification_modes WHERE user_id = $1 ORDER BY type", user_id
        )
        return {r[0]: r[1] for r in rows}

    async def set_mode(self, user_id: str, notification_type: str, mode: Mode) -> None:
        if mode == DEFAULT_MODE:
            await self.db.execute(
                "DELETE FROM notification_modes WHERE user_id = $1 AND type = $2",
                user_id,
                notification_type,
            )
            return
        await self.db.execute(
            "INSERT INTO notification_modes (user_id, type, mode) VALUES ($1, $2, $3) "
            "ON CONFLICT (user_id, type) DO UPDATE SET mode = excluded.mode",
            user_id,
            notification_type,
            mode,
        )

    async def archive(self, user_id: str, ids: Sequence[str], archived: bool) -> ArchiveResult:
        wanted = list(dict.fromkeys(ids))

        async def body(conn: Conn) -> ArchiveResult:
            found: dict[str, int | None] = {}
            for nid in wanted:
                number = parse_body_id(nid)
                seq = None
                if number is not None:
                    seq = await conn.fetchval(
                        "SELECT seq FROM entries WHERE body = $1 AND user_id = $2",
                        number,
                        user_id,
                    )
                found[nid] = None if seq is None else int(seq)
            unknown = tuple(nid for nid, seq in found.items() if seq is None)
            if unknown:
                return ArchiveResult(unknown=unknown)
            changed: list[str] = []
            now = time.time()
            for nid, seq in found.items():
                if archived:
                    status = await conn.execute(
                        "INSERT INTO archived_notifications (user_id, seq, id, at) "
                        "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                        user_id,
                        seq,
                        nid,
                        now,
                    )
                else:
                    status = await conn.execute(
                        "DELETE FROM archived_notifications WHERE user_id = $1 AND seq = $2",
                        user_id,
                        seq,
                    )
                if not status.endswith(" 0"):
                    changed.append(nid)
            await conn.execute(
                "DELETE FROM archived_notifications a WHERE a.user_id = $1 AND NOT EXISTS "
                "(SELECT 1 FROM entries e WHERE e.user_id = a.user_id AND e.seq = a.seq)",
                user_id,
            )
            return ArchiveResult(changed=tuple(changed))

        return await self.db.transaction(body)

    async def archived(self, user_id: str, limit: int = ARCHIVED_LIMIT) -> list[str]:
        rows = await self.db.fetch(
            "SELECT a.id FROM archived_notifications a JOIN entries e "
            "ON e.user_id = a.user_id AND e.seq = a.seq "
            "WHERE a.user_id = $1 ORDER BY a.seq DESC LIMIT $2",
            user_id,
            limit,
        )
        return [r[0] for r in rows]
