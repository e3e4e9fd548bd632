"""The embedded notification log's tables, and the one-way conversions from older versions.

Schema 3 stores a notification's body once, however many users it went to (``bodies``), and one
small row per recipient (``entries``: the user, the ``seq`` in that user's log, the body, the read
flag), clustered by user and ``seq`` so that a user's replay is one range read. Bodies are
numbered by the writer in commit order, so within a user's log ``seq`` and ``body`` rise
together. Each user's last ``seq`` and unread count live in ``user_log``. Schema 4 adds to each
body its notification frame as the live stream sent it (``frame``, all but the ``seq``: see
``grace_chat.notifications.model.frame_bytes``), so that a replay sends stored bytes instead of
rebuilding and encoding each notification; bodies stored before have none, and are replayed
from their columns.

A conversion runs in one transaction when the store opens a file of an older version, keeping
every notification, its ``seq``, id, read flag, and the unread counts. The version is recorded
in ``meta`` (``schema_version``) and covers the whole file; a file of a newer version than this
module knows is refused, since this process would not know what its tables mean.
"""

from __future__ import annotations

import logging
import sqlite3

from grace_chat.errors import ConfigError

log = logging.getLogger("grace_chat.store.sqlite")

SCHEMA_VERSION = "4"

#: Tables the open step needs before it can read the version.
BEFORE_SCHEMA = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS user_log (
    user_id TEXT PRIMARY KEY,
    last_seq INTEGER NOT NULL,
    unread INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bodies (
    body INTEGER PRIMARY KEY,
    legacy_id TEXT,
    type TEXT NOT NULL,
    title TEXT NOT NULL,
    message TEXT NOT NULL,
    badge TEXT NOT NULL,
    severity TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    created REAL NOT NULL,
    data BLOB NOT NULL,
    actions BLOB NOT NULL,
    frame BLOB
);
CREATE INDEX IF NOT EXISTS bodies_created ON bodies (created);
CREATE UNIQUE INDEX IF NOT EXISTS bodies_legacy_id ON bodies (legacy_id)
    WHERE legacy_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS entries (
    user_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    body INTEGER NOT NULL,
    read INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS entries_body ON entries (body);
"""
# ``legacy_id`` holds the id of a notification stored before schema 3 (ids were random then);
# newer ids are derived from the body number (``body_id``), so they cost no index.

#: Schema 3 had no stored frames (its bodies keep none: they are replayed from their columns).
_V3_TO_V4 = "ALTER TABLE bodies ADD COLUMN frame BLOB;"

#: Schema 1 kept rows in a (user_id, seq) B-tree with three more indexes.
_V1_TO_V2 = """
ALTER TABLE notifications RENAME TO notifications_v1;
DROP INDEX IF EXISTS notifications_id;
DROP INDEX IF EXISTS notifications_created;
DROP INDEX IF EXISTS notifications_unread;
ALTER TABLE user_log ADD COLUMN unread INTEGER NOT NULL DEFAULT 0;
CREATE TABLE notifications (
    user_id TEXT NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL, type TEXT NOT NULL,
    title TEXT NOT NULL, message TEXT NOT NULL, badge TEXT NOT NULL, severity TEXT NOT NULL,
    timestamp TEXT NOT NULL, created REAL NOT NULL, data BLOB NOT NULL, actions BLOB NOT NULL,
    read INTEGER NOT NULL DEFAULT 0
);
INSERT INTO notifications SELECT user_id, seq, id, type, title, message, badge, severity,
    timestamp, created, data, actions, read FROM notifications_v1 ORDER BY created;
UPDATE user_log SET unread = (SELECT COUNT(*) FROM notifications n
    WHERE n.user_id = user_log.user_id AND n.read = 0);
DROP TABLE notifications_v1;
"""

#: Schema 2 kept one full row per recipient in a rowid table.
_V2_TO_V3 = f"""
DROP INDEX IF EXISTS notifications_user_seq;
DROP INDEX IF EXISTS notifications_created;
{SCHEMA}
INSERT INTO bodies (body, legacy_id, type, title, message, badge, severity, timestamp, created,
    data, actions)
    SELECT rowid, id, type, title, message, badge, severity, timestamp, created, data, actions
    FROM notifications ORDER BY rowid;
INSERT INTO entries (user_id, seq, body, read)
    SELECT user_id, seq, rowid, read FROM notifications;
INSERT OR REPLACE INTO meta (key, value)
    SELECT 'last_body', CAST(COALESCE(MAX(body), 0) AS TEXT) FROM bodies;
DROP TABLE notifications;
"""


def body_id(body: int) -> str:
    """The id of the notification stored as body number ``body``."""
    return f"n{body}"


def parse_body_id(nid: str) -> int | None:
    """The body number an id names, or ``None`` for an id from before schema 3."""
    if nid.startswith("n") and nid[1:].isdigit() and len(nid) < 20:
        return int(nid[1:])
    return None


def migrate(conn: sqlite3.Connection, where: str = "") -> None:
    """Bring the file to ``SCHEMA_VERSION``: create it, or convert an older one in place; refuse
    one of a newer version (``where`` names the file in that refusal)."""
    found = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    version = found[0] if found is not None else None
    if version is not None and (not str(version).isdigit() or int(version) > int(SCHEMA_VERSION)):
        raise ConfigError(
            f"the database file {where} has schema version {version}, newer than this Grace "
            f"understands ({SCHEMA_VERSION}); run the newer Grace or use another data directory"
        )
    if version in ("1", "2", "3"):
        log.info("converting the notification log from schema %s to %s", version, SCHEMA_VERSION)
        steps = {"1": _V1_TO_V2 + _V2_TO_V3, "2": _V2_TO_V3, "3": _V3_TO_V4}[version]
        conn.executescript(f"BEGIN; {steps} COMMIT;")
    else:
        conn.executescript(SCHEMA)
    conn.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)", (SCHEMA_VERSION,)
    )
