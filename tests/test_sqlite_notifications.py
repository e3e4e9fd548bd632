"""What only the embedded SQLite engine has: one process per database file, the conversion of
files of older schema versions, the refusal of newer ones. The log's contract is held against
every engine in ``test_store_contract.py``."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from grace_chat.errors import ConfigError
from grace_chat.notifications.model import Draft, Notification, Severity
from grace_chat.store.backends import sqlite_db
from grace_chat.store.backends.group_commit import GATHER_DELIVERIES
from grace_chat.store.backends.sqlite_notifications import SQLiteNotificationLog


def draft(
    user: str | tuple[str, ...], message: str = "m", *, age: timedelta | None = None
) -> Draft:
    created = (datetime.now(UTC) - (age or timedelta(0))).timestamp()
    users = (user,) if isinstance(user, str) else user
    return Draft(users, "test", message, "🧪", Severity.INFO, "Grace Notification", created=created)


async def append(store: SQLiteNotificationLog, drafts: list[Draft]) -> list[Notification]:
    """Append and return every recipient's copy, in order."""
    return [n for posted in await store.append(drafts) for n in posted.notifications()]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "grace.db"


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[SQLiteNotificationLog]:
    s = SQLiteNotificationLog(db_path, synchronous="NORMAL")
    await s.open()
    try:
        yield s
    finally:
        await s.close()


async def test_a_second_instance_on_the_same_file_is_refused(
    store: SQLiteNotificationLog, db_path: Path
) -> None:
    second = SQLiteNotificationLog(db_path)
    with pytest.raises(ConfigError, match="another Grace process is using"):
        await second.open()


async def test_a_second_process_on_the_same_file_is_refused(
    store: SQLiteNotificationLog, db_path: Path
) -> None:
    script = textwrap.dedent(
        f"""
        import asyncio, sys
        from pathlib import Path
        from grace_chat.errors import ConfigError
        from grace_chat.store.backends.sqlite_notifications import SQLiteNotificationLog
        try:
            asyncio.run(SQLiteNotificationLog(Path({str(db_path)!r})).open())
        except ConfigError as exc:
            print(exc)
            sys.exit(3)
        """
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 3, err.decode()
    assert "another Grace process is using" in out.decode()
    # the first instance is unaffected
    assert (await append(store, [draft("ann")]))[0].seq == 1


async def test_the_file_is_free_again_after_close(db_path: Path) -> None:
    first = SQLiteNotificationLog(db_path)
    await first.open()
    await append(first, [draft("ann")])
    await first.close()
    second = SQLiteNotificationLog(db_path)
    await second.open()
    try:
        assert (await second.head("ann")).seq == 1
    finally:
        await second.close()


V1_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE user_log (user_id TEXT PRIMARY KEY, last_seq INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE notifications (
    user_id TEXT NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL, type TEXT NOT NULL,
    title TEXT NOT NULL, message TEXT NOT NULL, badge TEXT NOT NULL, severity TEXT NOT NULL,
    timestamp TEXT NOT NULL, created REAL NOT NULL, data BLOB NOT NULL, actions BLOB NOT NULL,
    read INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (user_id, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX notifications_id ON notifications (id);
CREATE INDEX notifications_created ON notifications (created);
CREATE INDEX notifications_unread ON notifications (user_id) WHERE read = 0;
INSERT INTO meta VALUES ('epoch', 'oldepoch'), ('schema_version', '1');
INSERT INTO user_log VALUES ('ann', 3);
"""


async def test_a_schema_1_log_is_converted_keeping_history_seq_and_unread(db_path: Path) -> None:
    import sqlite3
    import time

    conn = sqlite3.connect(db_path)
    conn.executescript(V1_SCHEMA)
    for seq, read in ((2, 1), (3, 0)):  # seq 1 already removed by retention
        conn.execute(
            "INSERT INTO notifications VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            ("ann", seq, f"id{seq}", "test", "Grace Notification", f"old {seq}", "🧪", "info",
             "2026-11-27T05:00:00.000Z", time.time(), b"{}", b"[]", read),
        )  # fmt: skip
    conn.commit()
    conn.close()
    store = SQLiteNotificationLog(db_path)
    await store.open()
    try:
        assert store.epoch == "oldepoch"
        head = await store.head("ann")
        assert (head.seq, head.first_seq, head.unread) == (3, 2, 1)
        assert [n.message for n in await store.read_since("ann", 0, 10)] == ["old 2", "old 3"]
        (new,) = await append(store, [draft("ann", "new")])
        assert new.seq == 4
        assert (await store.head("ann")).unread == 2
    finally:
        await store.close()


V2_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE user_log (
    user_id TEXT PRIMARY KEY, last_seq INTEGER NOT NULL, unread INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE notifications (
    user_id TEXT NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL, type TEXT NOT NULL,
    title TEXT NOT NULL, message TEXT NOT NULL, badge TEXT NOT NULL, severity TEXT NOT NULL,
    timestamp TEXT NOT NULL, created REAL NOT NULL, data BLOB NOT NULL, actions BLOB NOT NULL,
    read INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX notifications_user_seq ON notifications (user_id, seq);
CREATE INDEX notifications_created ON notifications (created);
INSERT INTO meta VALUES ('epoch', 'epoch2'), ('schema_version', '2');
INSERT INTO user_log VALUES ('ann', 2, 2), ('bob', 1, 0);
"""


async def test_a_schema_2_log_is_converted_keeping_ids_seq_read_state_and_unread(
    db_path: Path,
) -> None:
    import sqlite3
    import time

    import orjson

    conn = sqlite3.connect(db_path)
    conn.executescript(V2_SCHEMA)
    for user, seq, nid, read in (
        ("ann", 1, "aaaa1", 0),
        ("bob", 1, "bbbb1", 1),
        ("ann", 2, "aaaa2", 0),
    ):
        conn.execute(
            "INSERT INTO notifications VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (user, seq, nid, "test", "Grace Notification", f"{user} {seq}", "🧪", "info",
             "2026-11-27T05:00:00.000Z", time.time(), b'{"k": 1}', b"[]", read),
        )  # fmt: skip
    conn.commit()
    conn.close()
    store = SQLiteNotificationLog(db_path)
    await store.open()
    try:
        assert store.epoch == "epoch2"
        ann = await store.read_since("ann", 0, 10)
        assert [(n.id, n.seq, n.message, n.data, n.read) for n in ann] == [
            ("aaaa1", 1, "ann 1", {"k": 1}, False),
            ("aaaa2", 2, "ann 2", {"k": 1}, False),
        ]
        assert [(n.id, n.read) for n in await store.read_since("bob", 0, 10)] == [("bbbb1", True)]
        replayed = await store.replay("ann", 0, 10)
        assert [orjson.loads(r.frame) for r in replayed] == [n.frame() for n in ann]
        assert (await store.mark_read("ann", ids=["aaaa2", "bbbb1"])).marked == 1
        assert (await store.head("ann")).unread == 1
        (new,) = await append(store, [draft("ann", "new")])
        assert new.seq == 3 and new.id not in {"aaaa1", "aaaa2", "bbbb1"}
    finally:
        await store.close()


async def test_a_schema_3_log_gains_stored_frames_and_replays_its_old_bodies_from_columns(
    db_path: Path,
) -> None:
    import sqlite3

    import orjson

    store = SQLiteNotificationLog(db_path)
    await store.open()
    await append(store, [draft("ann", "old 1"), draft(("ann", "bob"), "old 2")])
    await store.mark_read("ann", up_to_seq=1)
    await store.close()
    conn = sqlite3.connect(db_path)  # as schema 3 left it: bodies without a frame
    conn.execute("ALTER TABLE bodies DROP COLUMN frame")
    conn.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()

    store = SQLiteNotificationLog(db_path)
    await store.open()
    try:
        await append(store, [draft("ann", "new")])
        stored = await store.read_since("ann", 0, 10)
        replayed = await store.replay("ann", 0, 10)  # a page of old and new bodies
        assert [orjson.loads(r.frame) for r in replayed] == [n.frame() for n in stored]
        assert [(n.message, n.read) for n in stored] == [("old 1", True), ("old 2", False),
                                                         ("new", False)]  # fmt: skip
        (new,) = await store.replay("ann", 2, 10)  # a page of new bodies: their stored frames
        assert orjson.loads(new.frame) == stored[2].frame()
        conn = sqlite3.connect(db_path)
        frames = conn.execute("SELECT frame IS NOT NULL FROM bodies ORDER BY body").fetchall()
        version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        conn.close()
        assert frames == [(0,), (0,), (1,)] and version == ("4",)
    finally:
        await store.close()


async def test_a_file_of_a_newer_schema_version_is_refused_in_one_line(db_path: Path) -> None:
    import sqlite3

    conn = sqlite3.connect(db_path)
    conn.executescript(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "INSERT INTO meta VALUES ('schema_version', '9');"
    )
    conn.commit()
    conn.close()
    store = SQLiteNotificationLog(db_path)
    with pytest.raises(ConfigError) as refused:
        await store.open()
    message = str(refused.value)
    assert "schema version 9, newer than this Grace understands (4)" in message
    assert str(db_path) in message and "\n" not in message
    # the refusal left the file free and unchanged
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("SELECT value FROM meta").fetchall() == [("9",)]
    finally:
        conn.close()


# -- the group commit window ------------------------------------------------------------------


async def open_log(db_path: Path, window: float) -> SQLiteNotificationLog:
    log = SQLiteNotificationLog(db_path, synchronous="NORMAL", commit_window=window)
    await log.open()
    return log


async def overlap(log: SQLiteNotificationLog) -> None:
    """Two appends at once: from now on appends overlap, and the window applies."""
    await asyncio.wait_for(asyncio.gather(*(log.append([draft(u, "at once")]) for u in "xy")), 10)


async def test_overlapping_appends_arriving_within_the_window_share_one_commit(
    db_path: Path,
) -> None:
    """While appends overlap, notifications a few ms apart go into one transaction: one commit
    (one fsync) for several, each caller answered once it is stored."""
    log = await open_log(db_path, window=0.5)
    commits: list[int] = []
    log.add_commit_listener(lambda posted: commits.append(len(posted)))
    try:
        await overlap(log)
        calls = []
        for i in range(5):
            calls.append(asyncio.create_task(log.append([draft(f"u{i}", f"m{i}")])))
            await asyncio.sleep(0.01)  # a publisher's pace, not a wait for a result
        posted = await asyncio.wait_for(asyncio.gather(*calls), 10)
        assert commits == [2, 5]
        assert [p[0].seqs for p in posted] == [(1,)] * 5
        for i in range(5):
            (stored,) = await log.read_since(f"u{i}", 0, 10)
            assert stored.message == f"m{i}"
    finally:
        await log.close()


async def test_a_publisher_awaiting_each_append_in_turn_never_waits_for_the_window(
    db_path: Path,
) -> None:
    """A lone caller that awaits each notification before the next is not held to one
    notification per window: its appends never overlap, so each commits at once."""
    log = await open_log(db_path, window=60.0)
    commits: list[int] = []
    log.add_commit_listener(lambda posted: commits.append(len(posted)))
    try:
        for i in range(5):
            (posted,) = await asyncio.wait_for(log.append([draft("ann", f"m{i}")]), 10)
            assert posted.seqs == (i + 1,)
        assert commits == [1] * 5
    finally:
        await log.close()


async def test_a_lone_append_waits_at_most_the_window_while_appends_overlap(
    db_path: Path,
) -> None:
    log = await open_log(db_path, window=1.0)
    try:
        await overlap(log)
        started = asyncio.get_running_loop().time()
        (posted,) = await asyncio.wait_for(log.append([draft("ann")]), 10)
        waited = asyncio.get_running_loop().time() - started
        assert posted.seqs == (1,)
        assert waited >= 0.99, "the window was not applied"
        # that transaction had one caller and none behind it: the next append commits at once
        started = asyncio.get_running_loop().time()
        await asyncio.wait_for(log.append([draft("ann")]), 10)
        assert asyncio.get_running_loop().time() - started < 0.99
    finally:
        await log.close()


async def test_a_burst_does_not_wait_for_the_window(db_path: Path) -> None:
    """Enough deliveries at once commit at once, however long the window."""
    log = await open_log(db_path, window=60.0)
    try:
        await overlap(log)
        users = tuple(f"u{i}" for i in range(GATHER_DELIVERIES))
        (posted,) = await asyncio.wait_for(log.append([draft(users)]), 10)
        assert posted.seqs == (1,) * GATHER_DELIVERIES
    finally:
        await log.close()


async def test_closing_writes_what_waits_for_its_window(db_path: Path) -> None:
    log = await open_log(db_path, window=60.0)
    await overlap(log)
    waiting = asyncio.create_task(log.append([draft("ann", "last words")]))
    await asyncio.sleep(0)  # let the append queue itself
    await asyncio.wait_for(log.close(), 10)
    (posted,) = await asyncio.wait_for(waiting, 1)
    assert posted.seqs == (1,)
    again = await open_log(db_path, window=0.0)
    try:
        assert [n.message for n in await again.read_since("ann", 0, 10)] == ["last words"]
    finally:
        await again.close()


async def test_the_wal_starts_over_under_writes_that_never_pause(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The background checkpoint never reaches the last frame of a WAL that is written all the
    time: the writer finishes it, so the WAL starts over instead of holding every commit (its
    header counts how many times it started over: bytes 12-15, big-endian)."""
    monkeypatch.setattr(sqlite_db, "WAL_RESTART_FRAMES", 64)
    log = await open_log(db_path, window=0.0)
    deadline = asyncio.get_running_loop().time() + 1.5
    appended = 0

    async def writer(n: int) -> None:
        nonlocal appended
        while asyncio.get_running_loop().time() < deadline:
            await log.append([draft(f"w{n}-{appended % 50}", "x" * 200)])
            appended += 1

    try:
        await asyncio.gather(*(writer(n) for n in range(16)))
        header = (await asyncio.to_thread(Path(f"{db_path}-wal").read_bytes))[:16]
        assert int.from_bytes(header[12:16], "big") > 0, "the WAL never started over"
        total = 0
        for n in range(16):
            for u in range(50):
                total += len(await log.read_since(f"w{n}-{u}", 0, 10_000))
        assert total == appended
    finally:
        await log.close()
