"""The WebSocket stream: greeting, replay, live delivery, resume, isolation."""

from __future__ import annotations

import asyncio

import pytest
from websockets.exceptions import ConnectionClosed

from grace_chat.config import Settings
from tests.support import Client, Running, serve


@pytest.fixture
def server(stream_server: Running) -> Running:
    """Every test here runs against both stream drivers (see ``stream_server``)."""
    return stream_server


async def test_hello_welcome_synced_then_live(server: Running) -> None:
    async with Client.connect(server, "ann") as c:
        welcome, replay, synced = await c.welcome()
        assert welcome["user_id"] == "ann" and welcome["protocol"] == 1
        assert welcome["seq"] == 0 and welcome["unread"] == 0 and welcome["epoch"]
        assert replay == [] and synced == {"type": "synced", "seq": 0}
        await server.grace.notify_user(
            user_id="ann",
            notification_type="task_completed",
            message="Deployment completed successfully",
            data={"task_id": "t1"},
        )
        (frame,) = await c.notifications(1)
    assert frame["type"] == "task_completed" and frame["badge"] == "✅"
    assert frame["message"] == "Deployment completed successfully"
    assert frame["seq"] == 1 and frame["severity"] == "success" and frame["read"] is False
    assert frame["data"] == {"task_id": "t1"} and frame["timestamp"].endswith("Z")


async def test_every_connection_of_a_user_gets_each_notification_once_in_order(
    server: Running,
) -> None:
    async with Client.connect(server, "ann") as a, Client.connect(server, "ann") as b:
        await a.welcome()
        await b.welcome()
        for i in range(50):
            await server.grace.notify_user("ann", "test", f"n{i}")
        got_a = await a.notifications(50)
        got_b = await b.notifications(50)
    assert [f["seq"] for f in got_a] == list(range(1, 51))
    assert [f["seq"] for f in got_b] == list(range(1, 51))
    assert [f["message"] for f in got_a] == [f"n{i}" for i in range(50)]


async def test_offline_user_gets_missed_notifications_on_reconnect_exactly_once(
    server: Running,
) -> None:
    async with Client.connect(server, "bob") as c:
        await c.welcome()
        await server.grace.notify_user("bob", "test", "first")
        (first,) = await c.notifications(1)
    for i in range(3):
        await server.grace.notify_user("bob", "test", f"while away {i}")
    async with Client.connect(server, "bob", since=first["seq"]) as c:
        welcome, replay, synced = await c.welcome()
        assert welcome["seq"] == 4
        assert [f["message"] for f in replay] == [f"while away {i}" for i in range(3)]
        assert synced["seq"] == 4 and "gap" not in synced
        await server.grace.notify_user("bob", "test", "live")
        (live,) = await c.notifications(1)
        assert live["seq"] == 5


async def test_notifications_published_during_replay_are_neither_lost_nor_doubled(
    server: Running,
) -> None:
    for i in range(1200):
        await server.grace.notify_user("cat", "test", f"old {i}")

    async def publish_more() -> None:
        for i in range(300):
            await server.grace.notify_user("cat", "test", f"new {i}")

    async with Client.connect(server, "cat", since=0) as c:
        publisher = asyncio.create_task(publish_more())
        seqs = [f["seq"] for f in await c.notifications(1500, timeout=20)]
        await publisher
    assert seqs == list(range(1, 1501))


async def test_users_never_see_each_others_notifications(server: Running) -> None:
    async with Client.connect(server, "ann") as ann, Client.connect(server, "bob") as bob:
        await ann.welcome()
        await bob.welcome()
        await server.grace.notify_user("bob", "test", "for bob only")
        await server.grace.notify_user("ann", "test", "for ann")
        (got,) = await ann.notifications(1)
        assert got["message"] == "for ann"
        (got,) = await bob.notifications(1)
        assert got["message"] == "for bob only"
    async with Client.connect(server, "ann", since=0) as ann:
        _, replay, _ = await ann.welcome()
    assert [f["message"] for f in replay] == ["for ann"]


async def test_history_and_seq_survive_a_restart(settings: Settings) -> None:
    async with serve(settings) as srv:
        for i in range(3):
            await srv.grace.notify_user("dan", "test", f"before {i}")
        epoch = srv.grace.store.epoch
    async with serve(settings) as srv:
        assert srv.grace.store.epoch == epoch
        stored = await srv.grace.notify_user("dan", "test", "after")
        assert stored.seq == 4
        async with Client.connect(srv, "dan", since=1) as c:
            welcome, replay, _ = await c.welcome()
    assert welcome["epoch"] == epoch
    assert [f["message"] for f in replay] == ["before 1", "before 2", "after"]


async def test_gap_is_reported_when_retention_dropped_what_the_client_missed(
    settings: Settings,
) -> None:
    async with serve(settings.with_(retention_count=5)) as srv:
        for i in range(12):
            await srv.grace.notify_user("eve", "test", f"n{i}")
        await srv.grace.store.prune()
        async with Client.connect(srv, "eve", since=2) as c:
            _, replay, synced = await c.welcome()
        assert [f["seq"] for f in replay] == [8, 9, 10, 11, 12]
        assert synced == {"type": "synced", "seq": 12, "gap": True}
        async with Client.connect(srv, "eve", since=7) as c:
            _, replay, synced = await c.welcome()
        assert len(replay) == 5 and "gap" not in synced
        # seq keeps counting after retention removed entries: never reused
        assert (await srv.grace.notify_user("eve", "test", "next")).seq == 13


@pytest.mark.parametrize("plain_asgi", [False, True], ids=["native", "asgi"])
async def test_a_server_shutdown_closes_open_streams_as_going_away(
    settings: Settings, plain_asgi: bool
) -> None:
    running = serve(settings, plain_asgi=plain_asgi)
    srv = await running.__aenter__()
    stopping: asyncio.Future[bool | None] | None = None
    try:
        async with Client.connect(srv, "ann") as client:
            await client.welcome()
            stopping = asyncio.ensure_future(running.__aexit__(None, None, None))
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await client.recv(timeout=10)
    finally:
        await asyncio.wait_for(stopping or running.__aexit__(None, None, None), 15)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code in (1001, 1012)  # going away, or restarting
