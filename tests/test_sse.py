"""SSE ``/api/notifications/sse``: frames with ``id: <seq>``, Last-Event-ID resume, keep-alive."""

from __future__ import annotations

import asyncio
import shutil

import pytest

from grace_chat.config import Settings
from tests.support import Running, serve
from tests.support.sse import PATH, sse


async def test_notifications_arrive_as_events_with_their_seq_as_id(server: Running) -> None:
    async with sse(server, "ann") as stream:
        welcome, replay, synced = await stream.until_synced()
        assert welcome.data["user_id"] == "ann" and replay == []
        assert synced.data == {"type": "synced", "seq": 0}
        for i in range(3):
            await server.grace.notify_user("ann", "task_completed", f"done {i}")
        events = [await stream.next() for _ in range(3)]
    assert [e.id for e in events] == ["1", "2", "3"]
    assert [e.data["seq"] for e in events] == [1, 2, 3]
    assert events[0].data["badge"] == "✅" and events[2].data["message"] == "done 2"
    assert set(events[0].data) >= {"type", "id", "seq", "message", "badge", "timestamp", "data"}


async def test_resume_with_last_event_id_replays_exactly_what_was_missed(server: Running) -> None:
    for i in range(5):
        await server.grace.notify_user("ann", "test", f"n{i}")
    async with sse(server, "ann", headers={"Last-Event-ID": "2"}) as stream:
        _, replay, synced = await stream.until_synced()
        assert [(e.id, e.data["message"]) for e in replay] == [
            ("3", "n2"),
            ("4", "n3"),
            ("5", "n4"),
        ]
        assert synced.data == {"type": "synced", "seq": 5}
        await server.grace.notify_user("ann", "test", "live")
        live = await stream.next()
    assert (live.id, live.data["message"]) == ("6", "live")


async def test_since_query_and_a_bad_last_event_id(server: Running) -> None:
    await server.grace.notify_user("ann", "test", "one")
    async with sse(server, "ann", since=0) as stream:
        _, replay, _ = await stream.until_synced()
    assert [e.id for e in replay] == ["1"]
    async with server.http() as http:
        response = await http.get(PATH, headers={**server.auth("ann"), "Last-Event-ID": "abc"})
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "bad_request"
        response = await http.get(PATH)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthenticated"


async def test_keep_alive_comments_flow(settings: Settings) -> None:
    async with serve(settings.with_(sse_ping_seconds=1)) as srv, sse(srv, "ann") as stream:
        await stream.until_synced()
        # nothing is published: a comment keeps the connection alive within about a second
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert (await stream.comment(timeout=3)).startswith(":")
        assert loop.time() - started < 3
        await srv.grace.notify_user("ann", "test", "after the pings")
        assert (await stream.next()).data["message"] == "after the pings"


async def test_two_users_are_isolated(server: Running) -> None:
    async with sse(server, "ann") as ann, sse(server, "bob") as bob:
        await ann.until_synced()
        await bob.until_synced()
        await server.grace.notify_user("bob", "test", "for bob")
        await server.grace.notify_user("ann", "test", "for ann")
        assert (await ann.next()).data["message"] == "for ann"
        assert (await bob.next()).data["message"] == "for bob"
    async with sse(server, "ann", headers={"Last-Event-ID": "0"}) as ann:
        _, replay, _ = await ann.until_synced()
    assert [e.data["message"] for e in replay] == ["for ann"]


async def test_curl_follows_the_stream(server: Running) -> None:
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("the curl binary is not installed on this machine")
    await server.grace.notify_user("ann", "test", "before")
    proc = await asyncio.create_subprocess_exec(
        curl,
        "-sS",
        "-N",
        "-H",
        f"Authorization: Bearer {server.token('ann')}",
        "-H",
        "Last-Event-ID: 0",
        server.url + PATH,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    lines: list[str] = []

    async def read_until(text: str) -> None:
        while not any(text in line for line in lines):
            raw = await asyncio.wait_for(proc.stdout.readline(), 5)  # type: ignore[union-attr]
            assert raw, "curl stopped"
            lines.append(raw.decode().rstrip("\r\n"))

    try:
        await read_until('"type":"synced"')
        assert "id: 1" in lines
        await server.grace.notify_user("ann", "test", "live through curl")
        await read_until("live through curl")
        assert "id: 2" in lines
    finally:
        proc.terminate()
        await proc.wait()
