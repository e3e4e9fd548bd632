"""A stream lives no longer than its token: at the token's expiry the WebSocket is closed with
4401 (on both drivers) and the SSE stream ends with an error event saying so; the client signs in
again and resumes where it was."""

from __future__ import annotations

import time

import pytest

from grace_chat.auth import TokenAuthority
from tests.support import Client, Running
from tests.test_sse import sse
from tests.test_ws_protocol import close_code, no_errors_logged

#: Tokens are minted with whole seconds: a 2 s token lives between 1 and 2 s.
TTL = 2


def test_an_identity_knows_when_its_token_expires() -> None:
    tokens = TokenAuthority("s" * 40, 3600)
    before = time.time()
    identity = tokens.verify(tokens.issue("ann", ttl=60))
    assert identity.expires_at is not None
    assert before + 59 <= identity.expires_at <= time.time() + 60
    left = identity.seconds_left()
    assert left is not None and 58 <= left <= 60
    assert identity.seconds_left(now=identity.expires_at + 5) == 0.0
    # the expiry is not part of who the caller is
    assert identity == tokens.verify(tokens.issue("ann", ttl=600))


@pytest.mark.parametrize("how", ["hello", "header"])
async def test_a_websocket_is_closed_4401_when_its_token_expires_then_resumes_with_a_new_one(
    stream_server: Running, caplog: pytest.LogCaptureFixture, how: str
) -> None:
    srv = stream_server
    token = srv.token("ann", ttl=TTL)
    expires_at = srv.grace.tokens.verify(token).expires_at
    assert expires_at is not None
    kwargs: dict[str, object] = (
        {"token": token}
        if how == "hello"
        else {"hello": False, "additional_headers": {"Authorization": f"Bearer {token}"}}
    )
    with no_errors_logged(caplog):
        async with Client.connect(srv, **kwargs) as c:  # type: ignore[arg-type]
            await c.welcome()
            # alive until then: notifications and commands flow
            await srv.grace.notify_user("ann", "test", "before expiry")
            (before,) = await c.notifications(1)
            assert (await c.command({"type": "ping"}))["type"] == "pong"
            error = await c.expect("error", timeout=TTL + 3)
            assert time.time() >= expires_at - 0.05
            assert error["code"] == "unauthenticated" and "expired" in error["message"]
            assert await close_code(c) == 4401
            assert c.ws.close_reason is not None and "expired" in c.ws.close_reason
        await srv.grace.notify_user("ann", "test", "while signed out")
        # the client signs in again and picks up where it was
        async with Client.connect(srv, "ann", since=before["seq"]) as c:
            _, replay, synced = await c.welcome()
            assert [f["message"] for f in replay] == ["while signed out"]
            assert "gap" not in synced
            await srv.grace.notify_user("ann", "test", "live again")
            (live,) = await c.notifications(1)
            assert live["message"] == "live again"


async def test_an_sse_stream_ends_with_an_error_event_when_its_token_expires(
    server: Running,
) -> None:
    token = server.token("ann", ttl=TTL)
    headers = {"Authorization": f"Bearer {token}"}
    async with sse(server, "ann", headers=headers) as stream:
        await stream.until_synced()
        await server.grace.notify_user("ann", "test", "before expiry")
        before = await stream.next()
        assert before.data["message"] == "before expiry"
        end = await stream.next(timeout=TTL + 3)
        assert end.data["type"] == "error" and end.data["code"] == "unauthenticated"
        assert end.data["close_code"] == 4401 and "expired" in end.data["message"]
        with pytest.raises(StopAsyncIteration):
            await stream.next()
    assert server.grace.hub.connection_count("ann") == 0
    await server.grace.notify_user("ann", "test", "while signed out")
    async with sse(server, "ann", headers={"Last-Event-ID": before.id or ""}) as stream:
        _, replay, _ = await stream.until_synced()
    assert [e.data["message"] for e in replay] == ["while signed out"]
