"""Protocol v1 on the WebSocket: bad input, limits, authentication, origins, replies with ref."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from grace_chat.auth import TokenAuthority
from grace_chat.config import Settings
from tests.support import Client, Frame, Running, serve


@pytest.fixture
def server(stream_server: Running) -> Running:
    """Every test here runs against both stream drivers (see ``stream_server``)."""
    return stream_server


@pytest.fixture
def settings(tmp_path: Any) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        sqlite_synchronous="NORMAL",
        max_command_bytes=2_000,
        max_message_bytes=20_000,
        hello_timeout=0.5,
        allowed_origins=("https://app.example",),
    )


@contextmanager
def no_errors_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fail if the server logs an ERROR (or any traceback) while the block runs.

    uvicorn's loggers do not propagate to the root logger, so the capture is attached to them too.
    """
    uvicorn = logging.getLogger("uvicorn")
    uvicorn.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.INFO):
            yield
    finally:
        uvicorn.removeHandler(caplog.handler)
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not bad, [f"{r.name}: {r.getMessage()}" for r in bad]


@pytest.fixture
async def ann(server: Running) -> AsyncIterator[Client]:
    async with Client.connect(server, "ann") as client:
        await client.welcome()
        yield client


async def still_usable(client: Client, ref: str = "alive") -> None:
    """A ping still gets its pong (notifications a command caused may come first)."""
    await client.send({"type": "ping", "id": ref})
    while (frame := await client.recv()).get("seq") is not None:
        pass
    assert frame == {"type": "pong", "ref": ref}


async def close_code(client: Client) -> int:
    """Read until the server closes the connection; the close code it sent."""
    with pytest.raises(ConnectionClosed) as info:
        while True:
            await client.recv()
    assert info.value.rcvd is not None, "the server sent no close frame"
    return info.value.rcvd.code


async def error_of(client: Client, raw: Frame | str | bytes) -> Frame:
    if isinstance(raw, bytes):
        await client.ws.send(raw)
    else:
        await client.send(raw)
    frame = await client.recv()
    assert frame["type"] == "error", frame
    assert set(frame) <= {"type", "code", "message", "ref"}
    return frame


# -- bad input ------------------------------------------------------------------------------


BAD_FRAMES: list[tuple[str, Frame | str, str, object]] = [
    ("not json", "{nope", "bad_json", None),
    ("truncated json", '{"type": "ping"', "bad_json", None),
    ("array", "[1, 2]", "bad_request", None),
    ("string", '"ping"', "bad_request", None),
    ("number", "42", "bad_request", None),
    ("no type", {"id": "r1"}, "bad_request", "r1"),
    ("numeric type", {"type": 7, "id": 3}, "bad_request", 3),
    ("null type", {"type": None}, "bad_request", None),
    ("unknown type", {"type": "launch_rockets", "id": "r2"}, "unknown_command", "r2"),
    ("ack seq as text", {"type": "ack", "seq": "ten", "id": "r3"}, "bad_request", "r3"),
    ("negative ack", {"type": "ack", "seq": -1, "id": "r4"}, "bad_request", "r4"),
    ("ack without seq", {"type": "ack", "id": "r5"}, "bad_request", "r5"),
    ("ids not a list", {"type": "mark_read", "ids": "abc", "id": "r6"}, "bad_request", "r6"),
    ("all not bool", {"type": "mark_read", "all": "yes", "id": "r7"}, "bad_request", "r7"),
    ("id is a list", {"type": "ping", "id": [1]}, "bad_request", None),
    ("extra field", {"type": "ping", "id": "r8", "color": "red"}, "bad_request", "r8"),
    ("cancel without id", {"type": "cancel_task", "id": "r9"}, "bad_request", "r9"),
    ("chat empty", {"type": "chat", "text": "", "id": "r10"}, "bad_request", "r10"),
    ("mark nothing", {"type": "mark_read", "id": "r11"}, "bad_request", "r11"),
]


async def test_every_bad_frame_gets_an_error_and_the_connection_stays_usable(
    ann: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with no_errors_logged(caplog):
        for name, raw, code, ref in BAD_FRAMES:
            frame = await error_of(ann, raw)
            assert (frame["code"], frame.get("ref")) == (code, ref), name
            assert frame["message"] and "Traceback" not in frame["message"]
            await still_usable(ann, name)


async def test_extra_field_error_names_the_field(ann: Client) -> None:
    frame = await error_of(ann, {"type": "ping", "color": "red"})
    assert "color" in frame["message"]


async def test_unknown_command_lists_the_known_ones(ann: Client) -> None:
    frame = await error_of(ann, {"type": "launch_rockets"})
    assert "launch_rockets" in frame["message"] and "ping" in frame["message"]


async def test_oversize_command_gets_too_large_and_bytes_are_counted_not_characters(
    ann: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with no_errors_logged(caplog):
        frame = await error_of(ann, {"type": "chat", "text": "x" * 3_000, "id": "big"})
        assert frame["code"] == "too_large" and "2000" in frame["message"]
        await still_usable(ann)
        # 900 characters, 3,600 bytes of UTF-8: above the byte limit
        frame = await error_of(ann, {"type": "chat", "text": "🧪" * 900})
        assert frame["code"] == "too_large"
        await still_usable(ann)


async def test_message_above_max_message_bytes_closes_with_1009(
    ann: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with no_errors_logged(caplog):
        await ann.send("x" * 30_000)
        assert await close_code(ann) == 1009


@pytest.mark.parametrize("payload", [b"\x00\xffgarbage", b'{"type": "ping", "id": "b"}'])
async def test_binary_frames_get_an_error_and_the_connection_stays_usable(
    ann: Client, caplog: pytest.LogCaptureFixture, payload: bytes
) -> None:
    with no_errors_logged(caplog):
        frame = await error_of(ann, payload)
        assert frame["code"] == "bad_request" and "text" in frame["message"]
        await still_usable(ann)


LATER_COMMANDS: list[Frame] = [
    {"type": "list_tasks"},
    {"type": "cancel_task", "task_id": "task_backup_789"},
    {"type": "pause_task", "task_id": "t1"},
    {"type": "resume_task", "task_id": "t1"},
    {"type": "task_logs", "task_id": "t1"},
    {"type": "start_task", "task_type": "deployment"},
    {"type": "pause_learning"},
    {"type": "resume_learning"},
    {"type": "approve", "approval_id": "a1"},
    {"type": "reject", "approval_id": "a1"},
    {"type": "status"},
    {"type": "chat", "text": "What's Grace doing?"},
]


async def test_protocol_commands_not_wired_answer_unavailable_never_silence(
    server: Running, ann: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with no_errors_logged(caplog):
        for command in LATER_COMMANDS:
            kind = command["type"]
            reply = await ann.command(command)
            if server.grace.commands.handles(kind):
                assert reply["type"] != "error" or reply["code"] not in {
                    "unavailable",
                    "unknown_command",
                    "internal",
                }, reply
            else:
                assert reply["type"] == "error" and reply["code"] == "unavailable", reply
                assert kind in reply["message"]
            await still_usable(ann, kind)


async def test_commands_beyond_the_rate_are_refused_then_allowed_again(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    async with (
        serve(settings.with_(command_rate=20.0, command_burst=5)) as srv,
        Client.connect(srv, "ann") as c,
    ):
        await c.welcome()
        with no_errors_logged(caplog):
            for i in range(15):
                await c.send({"type": "ping", "id": i})
            replies = [await c.recv() for _ in range(15)]
            assert [r["ref"] for r in replies] == list(range(15))
            limited = [r for r in replies if r["type"] == "error"]
            assert limited and all(r["code"] == "rate_limited" for r in limited)
            assert [r["type"] for r in replies[:5]] == ["pong"] * 5
            # tokens refill at 20/s: keep asking until a ping is answered again
            for _ in range(200):
                reply = await c.command({"type": "ping"})
                if reply["type"] == "pong":
                    break
                assert reply["code"] == "rate_limited"
            else:
                raise AssertionError("still rate limited after 200 attempts")


async def test_a_second_hello_is_a_conflict(ann: Client, server: Running) -> None:
    frame = await error_of(ann, {"type": "hello", "token": server.token("bob"), "id": "h2"})
    assert frame["code"] == "conflict" and frame["ref"] == "h2"
    await still_usable(ann)
    await server.grace.notify_user("bob", "test", "for bob")
    await server.grace.notify_user("ann", "test", "for ann")
    (got,) = await ann.notifications(1)
    assert got["message"] == "for ann"


# -- authentication -------------------------------------------------------------------------


async def test_no_hello_within_hello_timeout_closes_4401(
    server: Running, caplog: pytest.LogCaptureFixture
) -> None:
    with no_errors_logged(caplog):
        async with Client.connect(server, hello=False) as c:
            frame = await c.expect("error", timeout=3)
            assert frame["code"] == "unauthenticated"
            assert await close_code(c) == 4401


def foreign_token(user: str) -> str:
    return TokenAuthority("another-secret-" + "x" * 40, 3600).issue(user)


@pytest.mark.parametrize("kind", ["garbage", "expired", "foreign secret", "no token", "not hello"])
async def test_a_bad_hello_gets_unauthenticated_and_close_4401(
    server: Running, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    hello: Frame = {
        "garbage": {"type": "hello", "token": "not.a.jwt"},
        "expired": {"type": "hello", "token": server.token("ann", ttl=-10)},
        "foreign secret": {"type": "hello", "token": foreign_token("ann")},
        "no token": {"type": "hello"},
        "not hello": {"type": "ping"},
    }[kind]
    with no_errors_logged(caplog):
        async with Client.connect(server, hello=False) as c:
            await c.send(hello)
            frame = await c.expect("error")
            assert frame["code"] == "unauthenticated"
            if kind == "expired":
                assert "expired" in frame["message"]
            assert await close_code(c) == 4401


async def test_authorization_header_authenticates_without_hello(server: Running) -> None:
    async with Client.connect(server, hello=False, additional_headers=server.auth("ann")) as c:
        welcome, _, _ = await c.welcome()
        assert welcome["user_id"] == "ann"
        await still_usable(c)


async def test_bad_authorization_header_is_refused(server: Running) -> None:
    headers = {"Authorization": f"Bearer {foreign_token('ann')}"}
    async with Client.connect(server, hello=False, additional_headers=headers) as c:
        assert (await c.expect("error"))["code"] == "unauthenticated"
        assert await close_code(c) == 4401


async def test_session_cookie_authenticates(server: Running) -> None:
    async with server.http() as http:
        response = await http.post("/api/session", json={"token": server.token("ann")})
        assert response.status_code == 204
        cookie = response.cookies[server.grace.auth.cookie_name]
        assert "httponly" in response.headers["set-cookie"].lower()
    headers = {"Cookie": f"{server.grace.auth.cookie_name}={cookie}"}
    async with Client.connect(server, hello=False, additional_headers=headers) as c:
        welcome, _, _ = await c.welcome()
    assert welcome["user_id"] == "ann"


async def test_a_foreign_origin_is_closed_4403(server: Running) -> None:
    headers = {"Cookie": f"{server.grace.auth.cookie_name}={server.token('ann')}"}
    async with Client.connect(
        server, hello=False, origin="https://evil.example", additional_headers=headers
    ) as c:
        assert await close_code(c) == 4403
    # refused before any credentials are looked at
    async with Client.connect(server, hello=False, origin="http://127.0.0.1.evil.example") as c:
        assert await close_code(c) == 4403


@pytest.mark.parametrize("origin", ["same", "https://app.example"])
async def test_same_and_allow_listed_origins_are_accepted(server: Running, origin: str) -> None:
    origin = server.url if origin == "same" else origin
    async with Client.connect(server, "ann", origin=origin) as c:  # type: ignore[arg-type]
        welcome, _, _ = await c.welcome()
        assert welcome["user_id"] == "ann"


async def test_user_id_query_is_ignored_unless_no_auth(server: Running) -> None:
    url = server.ws_url + "?user_id=bob"
    async with websockets.connect(url) as ws:
        c = Client(ws)
        assert (await c.expect("error", timeout=3))["code"] == "unauthenticated"
        assert await close_code(c) == 4401
    async with websockets.connect(url) as ws:
        c = Client(ws)
        await c.send({"type": "hello", "token": server.token("ann")})
        welcome, _, _ = await c.welcome()
        assert welcome["user_id"] == "ann"


async def test_no_auth_takes_user_id_from_the_query(settings: Settings) -> None:
    async with (
        serve(settings.with_(no_auth=True)) as srv,
        websockets.connect(srv.ws_url + "?user_id=user") as ws,
    ):
        c = Client(ws)
        welcome, _, _ = await c.welcome()
        assert welcome["user_id"] == "user"
        await srv.grace.notify_user("user", "test", "This is a test notification")
        (frame,) = await c.notifications(1)
        assert frame["badge"] == "🧪"


# -- ack and mark_read ----------------------------------------------------------------------


async def test_ack_replies_with_ref_and_never_goes_back(ann: Client) -> None:
    assert await ann.command({"type": "ack", "seq": 5}) == {
        "type": "acked",
        "seq": 5,
        "ref": ann.last_ref,
    }
    reply = await ann.command({"type": "ack", "seq": 2})
    assert reply["seq"] == 5


async def test_mark_read_replies_with_ref_and_tells_the_users_other_connections(
    server: Running,
) -> None:
    async with (
        Client.connect(server, "ann") as tab1,
        Client.connect(server, "ann") as tab2,
        Client.connect(server, "bob") as bob,
    ):
        for c in (tab1, tab2, bob):
            await c.welcome()
        for i in range(4):
            await server.grace.notify_user("ann", "test", f"a{i}")
        bob_n = await server.grace.notify_user("bob", "test", "b0")
        frames = await tab1.notifications(4)
        await tab2.notifications(4)
        await bob.notifications(1)

        # another user's ids mark nothing
        reply = await tab1.command({"type": "mark_read", "ids": [bob_n.id]})
        assert reply["type"] == "read" and reply["marked"] == 0 and reply["unread"] == 4
        assert reply["ref"] == tab1.last_ref
        assert (await server.grace.store.head("bob")).unread == 1

        reply = await tab1.command({"type": "mark_read", "ids": [frames[0]["id"]]})
        assert (reply["marked"], reply["unread"]) == (1, 3)
        reply = await tab1.command({"type": "mark_read", "up_to_seq": 3})
        assert (reply["marked"], reply["unread"]) == (2, 1)
        reply = await tab1.command({"type": "mark_read", "all": True})
        assert (reply["marked"], reply["unread"]) == (1, 0)

        # the other tab is told about each, in order; the sender's tab is not told twice
        told = [await tab2.expect("read") for _ in range(4)]
        assert [t["marked"] for t in told] == [0, 1, 2, 1]
        assert told[1]["ids"] == [frames[0]["id"]] and told[2]["up_to_seq"] == 3
        assert told[3]["all"] is True and told[3]["unread"] == 0
        assert "ref" not in told[0]
        await still_usable(tab1, "t1")
        # bob is told nothing and his notification stays unread
        await still_usable(bob, "b")
        assert (await server.grace.store.head("bob")).unread == 1
