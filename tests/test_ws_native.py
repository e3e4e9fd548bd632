"""Flow control on a stream connection, on both drivers: a full socket buffer, a command flood."""

from __future__ import annotations

import asyncio
import secrets

from grace_chat.config import Settings
from tests.support import Client, Running, serve, small_window_socket

BLOB = secrets.token_urlsafe(100_000)


async def test_a_client_that_pauses_reading_gets_everything_in_order_once_it_reads_again(
    stream_server: Running,
) -> None:
    """More than the socket buffers hold is published while the client does not read: the
    server holds the rest (below the slow-consumer limit) and writes it once the buffer drains."""
    srv = stream_server
    count = 60  # 6 MB: far more than the kernel buffers of a 16 KiB receive window
    async with Client.connect(
        srv, "ann", max_size=None, max_queue=1, sock=small_window_socket(srv.url)
    ) as client:
        await client.welcome()
        for i in range(count):
            await srv.grace.notify_user("ann", "test", f"n{i}", data={"blob": BLOB})
        (box,) = srv.grace.hub.connections("ann")
        assert len(box) > 0 or box.blocked, "everything fit in the socket buffers"
        got = await client.notifications(count, timeout=30)
    assert [f["seq"] for f in got] == list(range(1, count + 1))
    assert not box.overflowed


async def test_a_flood_of_commands_is_answered_in_order_one_reply_each(
    settings: Settings,
) -> None:
    """500 commands sent without waiting: the server stops reading while it works through them
    and reads on afterwards; every command gets exactly one reply, in the order sent."""
    for plain in (False, True):
        async with (
            serve(
                settings.with_(command_rate=10_000.0, command_burst=10_000), plain_asgi=plain
            ) as srv,
            Client.connect(srv, "ann") as client,
        ):
            await client.welcome()
            await asyncio.gather(
                *(client.ws.send(f'{{"type": "ping", "id": {i}}}') for i in range(500))
            )
            replies = [await client.recv(timeout=10) for _ in range(500)]
            assert [r["ref"] for r in replies] == list(range(500))
            assert {r["type"] for r in replies} == {"pong"}
            reply = await client.command({"type": "ping"})  # and the connection reads on
            assert reply["type"] == "pong"


async def test_permessage_deflate_is_offered_only_when_turned_on(settings: Settings) -> None:
    """A browser asks for permessage-deflate: with ``ws_deflate`` the server agrees and the
    notifications arrive compressed and intact; without it the handshake leaves it out."""
    for on in (True, False):
        async with serve(settings.with_(ws_deflate=on)) as srv:
            async with Client.connect(srv, "ann", compression="deflate") as client:
                assert client.ws.response is not None
                offered = client.ws.response.headers.get("Sec-WebSocket-Extensions") or ""
                assert ("permessage-deflate" in offered) is on
                await client.welcome()
                for i in range(3):
                    await srv.grace.notify_user("ann", "test", f"n{i}", data={"i": i})
                got = await client.notifications(3)
            assert [f["message"] for f in got] == ["n0", "n1", "n2"]
