"""A page of the SQLite log as a replay sends it (``NotificationStore.replay``).

Schema 4 stores each body's frame, all but the ``seq`` (``grace_chat.notifications.model.
frame_bytes``): a page is read as stored frames and the few fields the away summary reads, and
no notification is built. Bodies stored before schema 4 have no frame: a page holding one is
built from the columns, ``data`` and ``actions`` embedded as stored (JSON), never decoded and
encoded again.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson

from grace_chat.notifications.model import Replayed, frame_bytes, notification_body
from grace_chat.store.backends.sqlite_schema import body_id

#: A page of a user's log as a replay sends it: stored frames (schema 4) ...
_REPLAY = (
    "SELECT e.seq, e.read, b.frame, b.type, b.severity, b.timestamp, b.message, b.data "
    "FROM entries e JOIN bodies b USING (body) WHERE e.user_id = ? AND e.seq > ? "
    "ORDER BY e.seq LIMIT ?"
)
#: ... or, for a page that holds bodies stored before (no frame), the columns to build it from.
_REPLAY_COLUMNS = (
    "SELECT e.seq, b.body, b.legacy_id, b.type, b.message, b.badge, b.severity, b.title, "
    "b.timestamp, b.data, b.actions, e.read FROM entries e JOIN bodies b USING (body) "
    "WHERE e.user_id = ? AND e.seq > ? ORDER BY e.seq LIMIT ?"
)


def _built(row: tuple[Any, ...]) -> Replayed:
    """A row of ``_REPLAY_COLUMNS`` as a replay sends it: ``data`` and ``actions`` go into the
    frame as the log stored them (JSON), never decoded and encoded again."""
    seq, body, legacy, kind, message, badge, severity, title, stamp, data, actions, read = row
    frame = notification_body(
        kind, legacy or body_id(body), title, message, badge, severity, stamp,
        orjson.Fragment(data), orjson.Fragment(actions), bool(read),
    )  # fmt: skip
    frame["seq"] = seq
    return Replayed(seq, kind, severity, stamp, orjson.dumps(frame), message, data)


def replay_page(conn: sqlite3.Connection, user_id: str, since: int, limit: int) -> list[Replayed]:
    """User ``user_id``'s notifications after ``since`` (at most ``limit``) as a replay sends
    them."""
    where = (user_id, since, limit)
    rows = conn.execute(_REPLAY, where).fetchall()
    if all(r[2] is not None for r in rows):
        return [
            Replayed(seq, kind, severity, stamp, frame_bytes(seq, tail, read), text, data)
            for seq, read, tail, kind, severity, stamp, text, data in rows
        ]
    return [_built(r) for r in conn.execute(_REPLAY_COLUMNS, where).fetchall()]
