"""The notification log's contract (``grace_chat.notifications.store``), held against every engine.

Each test runs once on the embedded SQLite engine and once on PostgreSQL, through
``open_stores`` as ``Grace`` opens them. What only one engine has (SQLite's lock file and its
conversions of old files; several processes on one PostgreSQL database) is tested beside it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from grace_chat.config import Settings
from grace_chat.notifications.model import Draft, Notification, Severity
from grace_chat.notifications.store import NotificationStore
from grace_chat.store.engines import open_stores
from tests.support.postgres import sql

pytestmark = pytest.mark.engines

Opener = Callable[..., NotificationStore]


def draft(
    user: str | tuple[str, ...], message: str = "m", *, age: timedelta | None = None
) -> Draft:
    created = (datetime.now(UTC) - (age or timedelta(0))).timestamp()
    users = (user,) if isinstance(user, str) else user
    return Draft(users, "test", message, "🧪", Severity.INFO, "Grace Notification", created=created)


async def append(store: NotificationStore, drafts: list[Draft]) -> list[Notification]:
    """Append and return every recipient's copy, in order."""
    return [n for posted in await store.append(drafts) for n in posted.notifications()]


@pytest.fixture
def make_log(settings: Settings) -> Opener:
    """A log on the test's engine and location (the same one every call), not yet open; keyword
    arguments change the settings (retention)."""

    def make(**changes: Any) -> NotificationStore:
        return open_stores(settings.with_(**changes)).notifications

    return make


@pytest.fixture
async def store(make_log: Opener) -> AsyncIterator[NotificationStore]:
    s = make_log()
    await s.open()
    try:
        yield s
    finally:
        await s.close()


async def count_rows(store: NotificationStore, table: str) -> int:
    """Rows of one of the log's tables (both engines keep ``bodies`` and ``entries``)."""
    db: Any = getattr(store, "db")  # noqa: B009 - the engine's database, whichever it is
    if hasattr(db, "fetchval"):
        return int(await db.fetchval(f"SELECT COUNT(*) FROM {table}"))
    return int(
        await db.read(lambda conn: conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
    )


def count_transactions(store: NotificationStore) -> list[int]:
    """The size of each committed batch, as the store's commit listeners see them (once per
    committed transaction, by the store's contract)."""
    batches: list[int] = []
    store.add_commit_listener(lambda committed: batches.append(len(committed)))
    return batches


async def test_seq_strictly_increases_without_holes_under_concurrent_appends(
    store: NotificationStore,
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
    store: NotificationStore,
) -> None:
    batches = count_transactions(store)
    n = 500
    stored = await asyncio.gather(*(append(store, [draft(f"u{i % 7}", str(i))]) for i in range(n)))
    assert sum(batches) == n and len(stored) == n
    assert len(batches) <= 5, f"{n} appends took {len(batches)} transactions"
    heads = [await store.head(f"u{i}") for i in range(7)]
    assert sum(h.seq for h in heads) == n


async def test_appends_arriving_during_a_commit_share_the_next_one(
    store: NotificationStore,
) -> None:
    """Group commit while the log is busy: callers that keep appending one notification each
    (each waiting for its own commit) are written many to a transaction."""
    batches = count_transactions(store)

    async def caller(k: int) -> None:
        for i in range(10):
            await append(store, [draft(f"u{k % 5}", f"{k}.{i}")])

    await asyncio.gather(*(caller(k) for k in range(50)))
    assert sum(batches) == 500
    assert len(batches) <= 100, f"500 appends by 50 callers took {len(batches)} transactions"
    assert max(batches) >= 10


async def test_a_cancelled_caller_s_notification_is_still_written(
    store: NotificationStore,
) -> None:
    first = asyncio.create_task(store.append([draft("ann", "one")]))
    second = asyncio.create_task(store.append([draft("ann", "two")]))
    await asyncio.sleep(0)
    second.cancel()
    await first
    await asyncio.gather(second, return_exceptions=True)
    await append(store, [draft("ann", "three")])
    assert [n.message for n in await store.read_since("ann", 0, 10)] == ["one", "two", "three"]


async def test_a_listener_that_raises_does_not_undo_the_commit(store: NotificationStore) -> None:
    def broken(_: object) -> None:
        raise RuntimeError("listener bug")

    store.add_commit_listener(broken)
    (n,) = await append(store, [draft("ann")])
    assert n.seq == 1 and [m.seq for m in await store.read_since("ann", 0, 10)] == [1]


async def test_retention_by_count_keeps_the_newest(make_log: Opener) -> None:
    store = make_log(retention_count=3)
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


async def test_retention_by_age_removes_old_entries_and_seq_is_not_reused(
    make_log: Opener,
) -> None:
    store = make_log(retention_days=1)
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


async def test_retention_forgets_the_unread_notifications_it_removes(make_log: Opener) -> None:
    store = make_log(retention_count=2)
    await store.open()
    try:
        await append(store, [draft("ann", str(i)) for i in range(5)])
        await store.mark_read("ann", up_to_seq=1)
        assert (await store.head("ann")).unread == 4
        assert await store.prune() == 3
        assert (await store.head("ann")).unread == 2
    finally:
        await store.close()


async def test_seq_is_never_reused_after_pruning_and_restart(make_log: Opener) -> None:
    store = make_log(retention_count=2)
    await store.open()
    for i in range(6):
        await append(store, [draft("ann", str(i))])
    await store.prune()
    epoch = store.epoch
    await store.close()

    store = make_log(retention_count=2)
    await store.open()
    try:
        assert store.epoch == epoch and epoch
        assert [n.seq for n in await store.read_since("ann", 0, 10)] == [5, 6]
        assert (await append(store, [draft("ann")]))[0].seq == 7
        assert (await append(store, [draft("new")]))[0].seq == 1
    finally:
        await store.close()


async def test_mark_read_by_ids_up_to_seq_and_all_touches_only_the_callers_rows(
    store: NotificationStore,
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
    # ids that name nothing, and a user with no log, mark nothing
    assert (await store.mark_read("ann", ids=["nope", "n999999"])).marked == 0
    assert await store.mark_read("nobody", everything=True) == type(result)(marked=0, unread=0)


async def test_reads_return_only_the_users_rows_newest_first_for_latest(
    store: NotificationStore,
) -> None:
    await append(store, [draft("ann", str(i)) for i in range(5)])
    await append(store, [draft("bob", "b")])
    assert [n.seq for n in await store.read_latest("ann", 2)] == [5, 4]
    assert [n.seq for n in await store.read_latest("ann", 10, before=3)] == [2, 1]
    assert [n.seq for n in await store.read_since("ann", 3, 10)] == [4, 5]
    assert [n.message for n in await store.read_latest("bob", 10)] == ["b"]
    assert await store.read_since("nobody", 0, 10) == []
    head = await store.head("nobody")
    assert (head.seq, head.first_seq, head.unread) == (0, 1, 0)


async def test_a_stored_notification_reads_back_as_it_was_posted(store: NotificationStore) -> None:
    from grace_chat.notifications.model import Action

    posted_draft = Draft(
        ("ann",), "approval_required", "Deploy?", "🔐", Severity.WARNING, "Approval",
        data={"nested": {"k": [1, 2.5, None, "é"]}}, actions=(Action("approve", "Approve"),),
    )  # fmt: skip
    (posted,) = await store.append([posted_draft])
    (stored,) = await store.read_since("ann", 0, 10)
    assert stored == posted.notification(0)
    assert stored.timestamp.endswith("Z") and stored.id == posted.id


async def test_a_replay_sends_each_notification_s_frame_as_read_since_reads_it(
    store: NotificationStore,
) -> None:
    from grace_chat.notifications.model import Action

    marked = Draft(
        ("ann",), "approval_required", "Deploy \"prod\"?", "🔐", Severity.WARNING, "Approval",
        data={"nested": {"k": [1, 2.5, None, "é"]}, "approval_id": "a1"},
        actions=(Action("approve", "Approve"), Action("reject", "Reject")),
    )  # fmt: skip
    await append(store, [draft("ann", "first"), marked, draft("bob", "not ann's"), draft("ann")])
    await store.mark_read("ann", up_to_seq=1)
    stored = await store.read_since("ann", 0, 10)
    replayed = await store.replay("ann", 0, 10)
    assert [r.seq for r in replayed] == [n.seq for n in stored] == [1, 2, 3]
    for r, n in zip(replayed, stored, strict=True):
        assert orjson.loads(r.frame) == n.frame()
        assert (r.type, r.severity, r.message, r.timestamp) == (
            n.type, n.severity, n.message, n.timestamp,
        )  # fmt: skip
        assert r.data == n.data
    assert orjson.loads(replayed[0].frame)["read"] is True
    assert [r.seq for r in await store.replay("ann", 2, 1)] == [3]
    assert await store.replay("nobody", 0, 10) == []


async def test_a_notification_for_many_users_is_stored_once_with_a_seq_in_each_log(
    store: NotificationStore,
) -> None:
    await append(store, [draft("ann", "before")])
    (posted,) = await store.append([draft(("ann", "bob", "cat"), "to all")])
    assert posted.draft.recipients == ("ann", "bob", "cat")
    assert posted.seqs == (2, 1, 1)
    assert await count_rows(store, "bodies") == 2 and await count_rows(store, "entries") == 4
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


async def test_retention_keeps_a_shared_body_until_its_last_copy_goes(make_log: Opener) -> None:
    store = make_log(retention_count=1)
    await store.open()
    try:
        await store.append([draft(("ann", "bob"), "shared")])
        await append(store, [draft("ann", "newer")])
        assert await store.prune() == 1  # ann's copy of "shared"
        assert [n.message for n in await store.read_since("bob", 0, 10)] == ["shared"]
        assert await count_rows(store, "bodies") == 2
        await append(store, [draft("bob", "newer")])
        assert await store.prune() == 1
        assert await count_rows(store, "bodies") == 2  # "shared" is gone, two "newer" remain
    finally:
        await store.close()


async def test_ids_are_not_reused_after_retention_emptied_the_log_and_a_restart(
    make_log: Opener,
) -> None:
    store = make_log(retention_days=1)
    await store.open()
    old = await append(store, [draft("ann", "old", age=timedelta(days=2)) for _ in range(3)])
    assert await store.prune() == 3
    await store.close()
    store = make_log(retention_days=1)
    await store.open()
    try:
        (new,) = await append(store, [draft("ann", "new")])
        assert new.id not in {n.id for n in old}
        assert new.seq == 4
    finally:
        await store.close()


async def test_a_notification_for_more_users_than_one_lookup_holds_numbers_each_log(
    make_log: Opener,
) -> None:
    users = tuple(f"user-{i:04d}" for i in range(1200))
    store = make_log()
    await store.open()
    try:
        await append(store, [draft(users[7], "first")])
        (posted,) = await store.append([draft(users, "to everyone")])
        assert posted.seqs == tuple(2 if i == 7 else 1 for i in range(1200))
    finally:
        await store.close()
    store = make_log()
    await store.open()
    try:
        (posted,) = await store.append([draft(users, "again")])
        assert posted.seqs == tuple(3 if i == 7 else 2 for i in range(1200))
        assert (await store.head(users[1199])).unread == 2
    finally:
        await store.close()


async def test_data_that_is_not_json_is_refused_alone_not_with_its_batch(
    settings: Settings,
) -> None:
    from grace_chat import Grace
    from grace_chat.errors import BadRequest

    async with Grace(settings, systems=False) as grace:
        good = [grace.notify_user(f"u{i}", "test", "fine") for i in range(20)]
        bad = grace.notify_user("x", "test", "broken", data={"when": object()})
        results = await asyncio.gather(*good, bad, return_exceptions=True)
        assert all(not isinstance(r, BaseException) for r in results[:-1])
        assert isinstance(results[-1], BadRequest)
        assert "JSON" in results[-1].message
        assert (await grace.store.head("u0")).seq == 1


async def test_the_schema_version_is_recorded(settings: Settings, engine: str) -> None:
    store = open_stores(settings).notifications
    await store.open()
    await store.close()
    if engine == "postgres":
        assert settings.database_url is not None
        rows = await sql(settings.database_url, "SELECT version FROM schema_version")
        assert [r[0] for r in rows] == [1, 2]
    else:
        import sqlite3

        conn = sqlite3.connect(Path(settings.resolved_database_url.removeprefix("sqlite:///")))
        try:
            (version,) = conn.execute(
                "SELECT value FROM meta WHERE key = 'schema_version'"
            ).fetchone()
        finally:
            conn.close()
        assert version == "4"
