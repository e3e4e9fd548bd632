"""The embedded store: seq, group commit, retention, read state, one process per database file."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from grace.config import Settings
from grace.errors import ConfigError
from grace.notifications.model import Draft, Notification, Severity
from grace.store.backends.sqlite_notifications import SQLiteNotificationLog


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


def count_transactions(store: SQLiteNotificationLog) -> list[int]:
    """The size of each committed batch, as the store's commit listeners see them (once per
    committed transaction, by the store's contract)."""
    batches: list[int] = []
    store.add_commit_listener(lambda committed: batches.append(len(committed)))
    return batches


async def test_seq_strictly_increases_without_holes_under_concurrent_appends(
    store: SQLiteNotificationLog,
) -> None:
    users = [f"u{i}" for i in range(5)]
    committed: list[Notification] = []
    store.add_commit_listener(lambda ps: committed.extend(n for p in ps for n in p.notifications()))

    async def writer(user: str, n: int) -> list[Notification]:
        out: list[Notification] = []
        for i in range(n):
            if i % 3 == 0:
                out.extend(await append(store, [draft(user, f"{i}a"), draft(user, f"{i}b")]))
            else:
                out.extend(await append(store, [draft(user, str(i))]))
        return out

    results = await asyncio.gather(*(writer(u, 40) for u in users for _ in range(4)))
    for user in users:
        rows = await store.read_since(user, 0, 10_000)
        expected = len([n for r in results for n in r if n.user_id == user])
        assert [n.seq for n in rows] == list(range(1, expected + 1))
        assert {n.user_id for n in rows} == {user}
        # each caller saw its own appends in increasing seq order
        for result in results:
            mine = [n.seq for n in result if n.user_id == user]
            assert mine == sorted(mine)
        # commit listeners saw the user's log in seq order, exactly once
        assert [n.seq for n in committed if n.user_id == user] == list(range(1, expected + 1))
    assert len({n.id for r in results for n in r}) == sum(len(r) for r in results)


async def test_a_burst_of_concurrent_appends_is_written_in_few_transactions(
    store: SQLiteNotificationLog,
) -> None:
    batches = count_transactions(store)
    n = 500
    stored = await asyncio.gather(*(append(store, [draft(f"u{i % 7}", str(i))]) for i in range(n)))
    assert sum(batches) == n and len(stored) == n
    assert len(batches) <= 5, f"{n} appends took {len(batches)} transactions"
    heads = [await store.head(f"u{i}") for i in range(7)]
    assert sum(h.seq for h in heads) == n


async def test_retention_by_count_keeps_the_newest(db_path: Path) -> None:
    store = SQLiteNotificationLog(db_path, synchronous="NORMAL", retention_count=3)
    await store.open()
    try:
        for i in range(10):
            await append(store, [draft("ann", f"n{i}")])
        await append(store, [draft("bob", "only")])
        removed = await store.prune()
        assert removed == 7
        assert [n.message for n in await store.read_since("ann", 0, 100)] == ["n7", "n8", "n9"]
        assert [n.message for n in await store.read_since("bob", 0, 100)] == ["only"]
        head = await store.head("ann")
        assert (head.seq, head.first_seq, head.unread) == (10, 8, 3)
        assert (await append(store, [draft("ann")]))[0].seq == 11
    finally:
        await store.close()


async def test_retention_by_age_removes_old_entries_and_seq_is_not_reused(db_path: Path) -> None:
    store = SQLiteNotificationLog(db_path, synchronous="NORMAL", retention_days=1)
    await store.open()
    try:
        await append(store, [draft("ann", "old", age=timedelta(days=2)) for _ in range(3)])
        await append(store, [draft("ann", "fresh")])
        assert await store.prune() == 3
        assert [(n.seq, n.message) for n in await store.read_since("ann", 0, 10)] == [(4, "fresh")]
        await append(store, [draft("cat", "old", age=timedelta(days=3))])
        assert await store.prune() == 1
        head = await store.head("cat")
        assert (head.seq, head.first_seq) == (1, 2)  # nothing retained, seq remembered
        assert (await append(store, [draft("cat")]))[0].seq == 2
    finally:
        await store.close()


async def test_seq_is_never_reused_after_pruning_and_restart(db_path: Path) -> None:
    store = SQLiteNotificationLog(db_path, synchronous="NORMAL", retention_count=2)
    await store.open()
    for i in range(6):
        await append(store, [draft("ann", str(i))])
    await store.prune()
    epoch = store.epoch
    await store.close()

    store = SQLiteNotificationLog(db_path, synchronous="NORMAL", retention_count=2)
    await store.open()
    try:
        assert store.epoch == epoch
        assert [n.seq for n in await store.read_since("ann", 0, 10)] == [5, 6]
        assert (await append(store, [draft("ann")]))[0].seq == 7
        assert (await append(store, [draft("new")]))[0].seq == 1
    finally:
        await store.close()


async def test_mark_read_by_ids_up_to_seq_and_all_touches_only_the_callers_rows(
    store: SQLiteNotificationLog,
) -> None:
    ann = await append(store, [draft("ann", str(i)) for i in range(6)])
    bob = await append(store, [draft("bob", str(i)) for i in range(3)])

    # ids of another user's notifications mark nothing
    result = await store.mark_read("ann", ids=[n.id for n in bob])
    assert (result.marked, result.unread) == (0, 6)
    assert (await store.head("bob")).unread == 3

    result = await store.mark_read("ann", ids=[ann[0].id, ann[0].id, bob[0].id])
    assert (result.marked, result.unread) == (1, 5)
    result = await store.mark_read("ann", up_to_seq=3)
    assert (result.marked, result.unread) == (2, 3)
    assert [n.read for n in await store.read_since("ann", 0, 10)] == [True] * 3 + [False] * 3
    assert (await store.head("bob")).unread == 3

    result = await store.mark_read("ann", everything=True)
    assert (result.marked, result.unread) == (3, 0)
    assert (await store.head("bob")).unread == 3
    assert not any(n.read for n in await store.read_since("bob", 0, 10))


async def test_reads_return_only_the_users_rows_newest_first_for_latest(
    store: SQLiteNotificationLog,
) -> None:
    await append(store, [draft("ann", str(i)) for i in range(5)])
    await append(store, [draft("bob", "b")])
    assert [n.seq for n in await store.read_latest("ann", 2)] == [5, 4]
    assert [n.seq for n in await store.read_latest("ann", 10, before=3)] == [2, 1]
    assert [n.seq for n in await store.read_since("ann", 3, 10)] == [4, 5]
    assert [n.message for n in await store.read_latest("bob", 10)] == ["b"]
    assert await store.read_since("nobody", 0, 10) == []


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
        from grace.errors import ConfigError
        from grace.store.backends.sqlite_notifications import SQLiteNotificationLog
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


async def test_data_that_is_not_json_is_refused_alone_not_with_its_batch(
    settings: Settings,
) -> None:
    from grace import Grace
    from grace.errors import BadRequest

    async with Grace(settings, systems=False) as grace:
        good = [grace.notify_user(f"u{i}", "test", "fine") for i in range(20)]
        bad = grace.notify_user("x", "test", "broken", data={"when": object()})
        results = await asyncio.gather(*good, bad, return_exceptions=True)
        assert all(not isinstance(r, BaseException) for r in results[:-1])
        assert isinstance(results[-1], BadRequest)
        assert "JSON" in results[-1].message
        assert (await grace.store.head("u0")).seq == 1


def count_rows(db_path: Path, table: str) -> int:
    import sqlite3

    conn = sqlite3.connect(db_path)
    try:
        return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
    finally:
        conn.close()


async def test_a_notification_for_many_users_is_stored_once_with_a_seq_in_each_log(
    store: SQLiteNotificationLog, db_path: Path
) -> None:
    await append(store, [draft("ann", "before")])
    (posted,) = await store.append([draft(("ann", "bob", "cat"), "to all")])
    assert posted.draft.recipients == ("ann", "bob", "cat")
    assert posted.seqs == (2, 1, 1)
    assert count_rows(db_path, "bodies") == 2 and count_rows(db_path, "entries") == 4
    copies = [(await store.read_since(u, 0, 10))[-1] for u in ("ann", "bob", "cat")]
    assert {n.id for n in copies} == {posted.id}
    assert [(n.user_id, n.seq, n.message) for n in copies] == [
        ("ann", 2, "to all"),
        ("bob", 1, "to all"),
        ("cat", 1, "to all"),
    ]
    # each copy has its own read flag: the shared id marks only the caller's copy
    assert (await store.mark_read("bob", ids=[posted.id])).marked == 1
    assert (await store.head("bob")).unread == 0
    assert (await store.head("cat")).unread == 1
    assert not (await store.read_since("cat", 0, 10))[0].read


async def test_retention_keeps_a_shared_body_until_its_last_copy_goes(db_path: Path) -> None:
    store = SQLiteNotificationLog(db_path, synchronous="NORMAL", retention_count=1)
    await store.open()
    try:
        await store.append([draft(("ann", "bob"), "shared")])
        await append(store, [draft("ann", "newer")])
        assert await store.prune() == 1  # ann's copy of "shared"
        assert [n.message for n in await store.read_since("bob", 0, 10)] == ["shared"]
        assert count_rows(db_path, "bodies") == 2
        await append(store, [draft("bob", "newer")])
        assert await store.prune() == 1
        assert count_rows(db_path, "bodies") == 2  # "shared" is gone, two "newer" remain
    finally:
        await store.close()


async def test_ids_are_not_reused_after_retention_emptied_the_log_and_a_restart(
    db_path: Path,
) -> None:
    store = SQLiteNotificationLog(db_path, synchronous="NORMAL", retention_days=1)
    await store.open()
    old = await append(store, [draft("ann", "old", age=timedelta(days=2)) for _ in range(3)])
    assert await store.prune() == 3
    await store.close()
    store = SQLiteNotificationLog(db_path, synchronous="NORMAL", retention_days=1)
    await store.open()
    try:
        (new,) = await append(store, [draft("ann", "new")])
        assert new.id not in {n.id for n in old}
        assert new.seq == 4
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
        assert (await store.mark_read("ann", ids=["aaaa2", "bbbb1"])).marked == 1
        assert (await store.head("ann")).unread == 1
        (new,) = await append(store, [draft("ann", "new")])
        assert new.seq == 3 and new.id not in {"aaaa1", "aaaa2", "bbbb1"}
    finally:
        await store.close()


async def test_a_notification_for_more_users_than_one_lookup_holds_numbers_each_log(
    db_path: Path,
) -> None:
    users = tuple(f"user-{i:04d}" for i in range(1200))
    store = SQLiteNotificationLog(db_path, synchronous="NORMAL")
    await store.open()
    try:
        await append(store, [draft(users[7], "first")])
        (posted,) = await store.append([draft(users, "to everyone")])
        assert posted.seqs == tuple(2 if i == 7 else 1 for i in range(1200))
    finally:
        await store.close()
    store = SQLiteNotificationLog(db_path, synchronous="NORMAL")
    await store.open()
    try:
        (posted,) = await store.append([draft(users, "again")])
        assert posted.seqs == tuple(3 if i == 7 else 2 for i in range(1200))
        assert (await store.head(users[1199])).unread == 2
    finally:
        await store.close()
