"""Numbers beyond what the store can hold are the client's mistake (``bad_request``), on every
door, never a failure of the server; the largest number the store holds still works."""

from __future__ import annotations

import logging

import pytest

from grace_chat.protocol import MAX_SEQ
from tests.support import Client, Running, error_body

BEYOND = 2**63  # one past SQLite's largest INTEGER
H = "/api/notifications"


@pytest.fixture
def server(stream_server: Running) -> Running:
    return stream_server


def assert_nothing_failed(caplog: pytest.LogCaptureFixture) -> None:
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not bad, [f"{r.name}: {r.getMessage()}" for r in bad]


async def test_rest_refuses_positions_beyond_the_store_and_accepts_the_largest(
    server: Running, caplog: pytest.LogCaptureFixture
) -> None:
    for i in range(3):
        await server.grace.notify_user("ann", "test", f"n{i}")
    auth = server.auth("ann")
    async with server.http() as http:
        for params in ({"since": BEYOND}, {"before": BEYOND}, {"since": 2**80}):
            message = error_body(await http.get(H, params=params, headers=auth), 422, "bad_request")
            assert str(MAX_SEQ) in message
        for body in ({"up_to_seq": BEYOND}, {"up_to_seq": 2**70}):
            error_body(await http.post(f"{H}/read", json=body, headers=auth), 422, "bad_request")
        response = await http.get(f"{H}/sse", params={"since": BEYOND}, headers=auth)
        error_body(response, 422, "bad_request")
        response = await http.get(f"{H}/sse", headers={**auth, "Last-Event-ID": str(BEYOND)})
        error_body(response, 400, "bad_request")
        response = await http.get("/api/tasks/t1/logs", params={"limit": BEYOND}, headers=auth)
        error_body(response, 422, "bad_request")
        response = await http.get(
            "/api/unified/chat/history", params={"limit": BEYOND}, headers=auth
        )
        error_body(response, 422, "bad_request")

        # The top of the range is a valid position.
        page = (await http.get(H, params={"since": MAX_SEQ}, headers=auth)).json()
        assert page["items"] == [] and page["seq"] == 3
        page = (await http.get(H, params={"before": MAX_SEQ}, headers=auth)).json()
        assert [n["message"] for n in page["items"]] == ["n2", "n1", "n0"]
        marked = await http.post(f"{H}/read", json={"up_to_seq": MAX_SEQ}, headers=auth)
        assert marked.json() == {"marked": 3, "unread": 0}
    assert_nothing_failed(caplog)


async def test_socket_commands_refuse_positions_beyond_the_store(
    server: Running, caplog: pytest.LogCaptureFixture
) -> None:
    await server.grace.notify_user("ann", "test", "one")
    async with Client.connect(server, "ann") as ann:
        await ann.welcome()
        for frame in (
            {"type": "mark_read", "up_to_seq": BEYOND},
            {"type": "ack", "seq": BEYOND},
            {"type": "task_logs", "task_id": "t1", "limit": BEYOND},
        ):
            reply = await ann.command(frame)
            assert reply["type"] == "error" and reply["code"] == "bad_request", reply
        reply = await ann.command({"type": "mark_read", "up_to_seq": MAX_SEQ})
        assert (reply["type"], reply["marked"], reply["unread"]) == ("read", 1, 0)
        assert (await ann.command({"type": "ack", "seq": MAX_SEQ}))["seq"] == MAX_SEQ
        assert (await ann.command({"type": "ping"}))["type"] == "pong"

    async with Client.connect(server, hello=False) as late:
        await late.send({"type": "hello", "token": server.token("ann"), "since": BEYOND})
        error = await late.expect("error")
        assert error["code"] == "bad_request"
    async with Client.connect(server, "ann", since=MAX_SEQ) as ahead:
        _, replay, synced = await ahead.welcome()
        assert replay == [] and synced["gap"] is True
    assert_nothing_failed(caplog)


async def test_library_callers_beyond_the_range_are_clamped(server: Running) -> None:
    grace = server.grace
    await grace.notify_user("ann", "test", "one")
    assert (await grace.mark_read("ann", up_to_seq=BEYOND))["marked"] == 1
    assert await grace.store.read_since("ann", BEYOND, 10) == []
    assert [n.message for n in await grace.store.read_latest("ann", 10, BEYOND)] == ["one"]
