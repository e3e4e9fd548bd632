"""Notification preferences: the store's contract on the embedded engine, the REST routes, and the
``preferences`` frame every open chat of the user gets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from grace_chat.config import Settings
from grace_chat.notifications.model import Draft, Notification, Severity
from grace_chat.notifications.preferences import DEFAULT_MODE, MODES, muted, preferences_frame
from grace_chat.store.backends.sqlite_notifications import SQLiteNotificationLog
from grace_chat.store.backends.sqlite_preferences import SQLitePreferenceStore
from tests.support import Client, Running, serve


def draft(*users: str, message: str = "m", kind: str = "test") -> Draft:
    return Draft(users, kind, message, "🧪", Severity.INFO, "Grace Notification")


Stores = tuple[SQLiteNotificationLog, SQLitePreferenceStore]


@pytest.fixture
async def stores(tmp_path: Path) -> AsyncIterator[Stores]:
    log = SQLiteNotificationLog(tmp_path / "grace.db", synchronous="NORMAL", retention_count=3)
    await log.open()
    prefs = SQLitePreferenceStore(log.db)
    await prefs.open()
    try:
        yield log, prefs
    finally:
        await log.close()


async def post(log: SQLiteNotificationLog, *drafts: Draft) -> list[Notification]:
    return [n for p in await log.append(list(drafts)) for n in p.notifications()]


# -- the store ------------------------------------------------------------------------------------


async def test_modes_are_per_user_and_the_default_is_not_stored(
    stores: Stores,
) -> None:
    _, prefs = stores
    assert await prefs.modes("ann") == {}
    await prefs.set_mode("ann", "task_progress", "mute")
    await prefs.set_mode("ann", "task_started", "silent")
    await prefs.set_mode("bob", "task_started", "alert")
    assert await prefs.modes("ann") == {"task_progress": "mute", "task_started": "silent"}
    assert await prefs.modes("bob") == {}  # alert is the default: nothing to keep
    await prefs.set_mode("ann", "task_started", DEFAULT_MODE)
    await prefs.set_mode("ann", "task_progress", "silent")  # a new choice replaces the old
    assert await prefs.modes("ann") == {"task_progress": "silent"}


async def test_modes_survive_a_restart(tmp_path: Path) -> None:
    for round_ in range(2):
        log = SQLiteNotificationLog(tmp_path / "grace.db", synchronous="NORMAL")
        await log.open()
        prefs = SQLitePreferenceStore(log.db)
        await prefs.open()
        try:
            if round_ == 0:
                await prefs.set_mode("ann", "guardian", "mute")
            else:
                assert await prefs.modes("ann") == {"guardian": "mute"}
        finally:
            await log.close()


async def test_a_user_archives_only_their_own_notifications_and_all_or_nothing(
    stores: Stores,
) -> None:
    log, prefs = stores
    ann1, ann2 = await post(log, draft("ann"), draft("ann"))
    (bob1,) = await post(log, draft("bob"))
    refused = await prefs.archive("ann", [ann1.id, bob1.id, "n999999"], True)
    assert set(refused.unknown) == {bob1.id, "n999999"} and refused.changed == ()
    assert await prefs.archived("ann") == []  # nothing changed, not even ann1
    done = await prefs.archive("ann", [ann1.id, ann2.id], True)
    assert done.changed == (ann1.id, ann2.id) and done.unknown == ()
    assert await prefs.archived("ann") == [ann2.id, ann1.id]  # newest first
    assert await prefs.archived("bob") == []
    again = await prefs.archive("ann", [ann1.id], True)
    assert again.changed == () and again.unknown == ()
    back = await prefs.archive("ann", [ann1.id], False)
    assert back.changed == (ann1.id,)
    assert await prefs.archived("ann") == [ann2.id]
    assert (await prefs.archive("bob", [ann2.id], False)).unknown == (ann2.id,)


async def test_a_shared_notification_is_archived_for_one_recipient_only(
    stores: Stores,
) -> None:
    log, prefs = stores
    ann, bob = await post(log, draft("ann", "bob"))
    assert ann.id == bob.id
    await prefs.archive("ann", [ann.id], True)
    assert await prefs.archived("ann") == [ann.id]
    assert await prefs.archived("bob") == []


async def test_an_archive_mark_goes_with_its_notification(
    stores: Stores,
) -> None:
    log, prefs = stores  # retention keeps 3 per user
    first = (await post(log, draft("ann")))[0]
    await prefs.archive("ann", [first.id], True)
    await post(log, draft("ann"), draft("ann"), draft("ann"))
    assert await log.prune() >= 1
    assert await prefs.archived("ann") == []
    assert (await prefs.archive("ann", [first.id], False)).unknown == (first.id,)


def test_the_frame_and_the_muted_types() -> None:
    assert MODES == ("alert", "silent", "mute")
    assert muted({"a": "mute", "b": "silent", "c": "mute"}) == {"a", "c"}
    assert preferences_frame({"a": "mute"}, ["n1"]) == {
        "type": "preferences",
        "modes": {"a": "mute"},
        "default": "alert",
        "archived": ["n1"],
        "unarchived": [],
    }


# -- REST and the frame ---------------------------------------------------------------------------


@pytest.mark.engines
async def test_rest_sets_modes_and_every_open_chat_of_the_user_hears_it(server: Running) -> None:
    async with (
        Client.connect(server, "ann") as one,
        Client.connect(server, "ann") as two,
        Client.connect(server, "bob") as other,
        server.http() as http,
    ):
        for c in (one, two, other):
            await c.welcome()
        got = (await http.get("/api/preferences", headers=server.auth("ann"))).json()
        assert got["modes"] == {} and got["default"] == "alert" and got["archived"] == []
        assert {"name": "task_failed", "badge": "❌", "severity": "error"} in got["types"]
        put = await http.put(
            "/api/preferences/types/task_progress",
            json={"mode": "mute"},
            headers=server.auth("ann"),
        )
        assert put.status_code == 200 and put.json()["modes"] == {"task_progress": "mute"}
        for c in (one, two):
            frame = await c.expect("preferences")
            assert frame["modes"] == {"task_progress": "mute"}
            assert frame["archived"] == [] and frame["unarchived"] == []
        await other.command({"type": "ping"})  # bob heard nothing before his pong
        bad = await http.put(
            "/api/preferences/types/task_progress",
            json={"mode": "loud"},
            headers=server.auth("ann"),
        )
        assert bad.status_code == 422
        refused = await http.put(
            "/api/preferences/types/welcome", json={"mode": "mute"}, headers=server.auth("ann")
        )
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "bad_request"
        anonymous = await http.get("/api/preferences")
        assert anonymous.status_code == 401


@pytest.mark.engines
async def test_rest_archives_only_the_callers_notifications(server: Running) -> None:
    ann = await server.grace.notify_user("ann", "test", "for ann")
    bob = await server.grace.notify_user("bob", "test", "for bob")
    async with Client.connect(server, "ann") as chat, server.http() as http:
        await chat.welcome()

        async def call(path: str, ids: list[str], user: str = "ann") -> Any:
            return await http.post(path, json={"ids": ids}, headers=server.auth(user))

        theirs = await call("/api/preferences/archive", [ann.id, bob.id])
        assert theirs.status_code == 404 and theirs.json()["error"]["code"] == "not_found"
        assert bob.id in theirs.json()["error"]["message"]
        ok = await call("/api/preferences/archive", [ann.id])
        assert ok.status_code == 200 and ok.json() == {"changed": [ann.id]}
        frame = await chat.expect("preferences")
        assert frame["archived"] == [ann.id] and frame["unarchived"] == []
        got = (await http.get("/api/preferences", headers=server.auth("ann"))).json()
        assert got["archived"] == [ann.id]
        assert (await call("/api/preferences/archive", [ann.id], "bob")).status_code == 404
        back = await call("/api/preferences/unarchive", [ann.id])
        assert back.json() == {"changed": [ann.id]}
        assert (await chat.expect("preferences"))["unarchived"] == [ann.id]
        empty = await call("/api/preferences/archive", [])
        assert empty.status_code == 422


@pytest.mark.engines
async def test_preferences_outlive_the_server(settings: Settings) -> None:
    async with serve(settings) as first, first.http() as http:
        await http.put(
            "/api/preferences/types/guardian", json={"mode": "silent"}, headers=first.auth("ann")
        )
    async with serve(settings) as second, second.http() as http:
        got = (await http.get("/api/preferences", headers=second.auth("ann"))).json()
        assert got["modes"] == {"guardian": "silent"}
