"""The stream's limits, on both drivers: close reasons that fit a close frame, connections and
commands per user, and a client that never reads."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import secrets
import time
import tracemalloc
from typing import Any

import psutil
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from grace_chat.api import wsproto
from grace_chat.config import Settings
from grace_chat.errors import ConfigError
from grace_chat.protocol import MAX_CLOSE_REASON_BYTES, close_reason
from tests.support import Client, Frame, Running, serve, until
from tests.test_hub import small_window_socket
from tests.test_sse import PATH as SSE_PATH
from tests.test_sse import sse
from tests.test_ws_protocol import close_code, no_errors_logged


@pytest.fixture
def settings(tmp_path: Any) -> Settings:
    return Settings(data_dir=tmp_path / "data", sqlite_synchronous="NORMAL", hello_timeout=2.0)


@pytest.fixture(params=[False, True], ids=["native", "asgi"])
def plain_asgi(request: pytest.FixtureRequest) -> bool:
    """For tests that start their own server with other settings: both stream drivers."""
    return bool(request.param)


# -- close reasons --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reason",
    [
        "",
        "short",
        "x" * MAX_CLOSE_REASON_BYTES,
        "x" * (MAX_CLOSE_REASON_BYTES + 1),
        "⪍鄵讲峩【" * 30,
        "🧪" * 40,
        "x" + "🧪" * 40,
        "xx" + "鄵" * 60,
        "lone \ud800 surrogate",
    ],
)
def test_a_close_reason_fits_a_close_frame_and_keeps_whole_characters(reason: str) -> None:
    cut = close_reason(reason)
    data = cut.encode()  # raises on anything UTF-8 cannot carry
    assert len(data) <= MAX_CLOSE_REASON_BYTES
    if len(reason.encode("utf-8", "replace")) <= MAX_CLOSE_REASON_BYTES:
        assert cut == reason.encode("utf-8", "replace").decode()
    else:
        assert cut.endswith("…") and reason.startswith(cut[:-1])
        assert len(data) >= MAX_CLOSE_REASON_BYTES - 3  # as much as fits, less a split character


@pytest.mark.parametrize(
    "first",
    [
        '{"type":"⪍鄵讲峩【"}',
        '{"type":"' + "🧪" * 10 + '"}',
        '{"type":"' + "鄵" * 40 + '", "id": "' + "鄵" * 40 + '"}',
        '{"type":"hello","token":"' + "鄵" * 100 + '"}',
        '{"type":"hello","token":"t","since":"' + "鄵" * 100 + '"}',
    ],
)
async def test_a_non_ascii_error_before_login_closes_4401_with_a_reason_cut_to_fit(
    stream_server: Running, caplog: pytest.LogCaptureFixture, first: str
) -> None:
    with no_errors_logged(caplog):
        async with Client.connect(stream_server, hello=False) as c:
            await c.send(first)
            error = await c.expect("error")
            assert error["code"] in {"unknown_command", "unauthenticated", "bad_request"}
            assert await close_code(c) == 4401
            assert c.ws.close_reason is not None
            reason = c.ws.close_reason.encode()
            assert len(reason) <= MAX_CLOSE_REASON_BYTES
            assert error["message"].startswith(c.ws.close_reason.removesuffix("…"))
    # the server goes on: the next connection is served
    async with Client.connect(stream_server, "ann") as c:
        welcome, _, _ = await c.welcome()
        assert welcome["user_id"] == "ann"


async def test_many_bad_first_frames_write_no_traceback(
    stream_server: Running, caplog: pytest.LogCaptureFixture
) -> None:
    with no_errors_logged(caplog):
        for i in range(20):
            async with websockets.connect(stream_server.ws_url) as ws:
                await ws.send('{"type":"' + chr(0x4E00 + i) * 50 + '"}')
                c = Client(ws)
                assert (await c.expect("error"))["code"] == "unknown_command"
                assert await close_code(c) == 4401


# -- connections per user -------------------------------------------------------------------


async def refused(client: Client) -> tuple[Frame, int]:
    """The error a refused connection gets, and its close code."""
    error = await client.expect("error")
    return error, await close_code(client)


async def test_connections_over_the_per_user_limit_are_closed_4429(
    settings: Settings, plain_asgi: bool, caplog: pytest.LogCaptureFixture
) -> None:
    async with (
        serve(settings.with_(max_connections_per_user=3), plain_asgi=plain_asgi) as srv,
        contextlib.AsyncExitStack() as stack,
    ):
        with no_errors_logged(caplog):
            tabs = [await stack.enter_async_context(Client.connect(srv, "ann")) for _ in range(3)]
            for tab in tabs:
                await tab.welcome()
            for how in ("hello", "header"):
                kwargs: dict[str, Any] = (
                    {"hello": False, "additional_headers": srv.auth("ann")}
                    if how == "header"
                    else {}
                )
                async with Client.connect(srv, "ann", **kwargs) as extra:
                    error, code = await refused(extra)
                assert code == 4429, how
                assert (
                    error["code"] == "rate_limited" and "too many connections" in error["message"]
                )
            # other users are not affected, and ann's open connections keep working
            async with Client.connect(srv, "bob") as bob:
                await bob.welcome()
                await srv.grace.notifier.notify_users(["ann", "bob"], "test", "for both")
                await bob.notifications(1)
            for tab in tabs:
                (got,) = await tab.notifications(1)
                assert got["message"] == "for both"
                assert (await tab.command({"type": "ping"}))["type"] == "pong"
            # a place frees up when a connection closes
            await tabs[0].ws.close()
            await until(lambda: srv.grace.hub.connection_count("ann") == 2, what="detach")
            async with Client.connect(srv, "ann") as again:
                welcome, _, _ = await again.welcome()
                assert welcome["user_id"] == "ann"


async def test_connections_arriving_together_cannot_all_slip_under_the_limit(
    settings: Settings, plain_asgi: bool
) -> None:
    limit, tries = 4, 20
    async with serve(settings.with_(max_connections_per_user=limit), plain_asgi=plain_asgi) as srv:
        token = srv.token("ann")
        async with contextlib.AsyncExitStack() as stack:
            sockets = await asyncio.gather(
                *(stack.enter_async_context(websockets.connect(srv.ws_url)) for _ in range(tries))
            )
            await asyncio.gather(
                *(ws.send(json.dumps({"type": "hello", "token": token})) for ws in sockets)
            )

            async def outcome(ws: Any) -> str:
                first = await Client(ws).recv()
                if first["type"] == "welcome":
                    return "welcome"
                assert first["code"] == "rate_limited", first
                return str(await close_code(Client(ws)))

            outcomes = await asyncio.gather(*(outcome(ws) for ws in sockets))
            assert sorted(outcomes).count("welcome") == limit
            assert outcomes.count("4429") == tries - limit
            assert srv.grace.hub.connection_count("ann") == limit


async def test_sse_streams_count_towards_the_per_user_limit(settings: Settings) -> None:
    async with (
        serve(settings.with_(max_connections_per_user=2)) as srv,
        Client.connect(srv, "ann") as tab,
        sse(srv, "ann") as stream,
    ):
        await tab.welcome()
        await stream.until_synced()
        async with srv.http() as http:
            response = await http.get(SSE_PATH, headers=srv.auth("ann"))
        assert response.status_code == 429
        assert response.json()["error"]["code"] == "rate_limited"
        async with Client.connect(srv, "ann") as extra:
            _, code = await refused(extra)
        assert code == 4429
        async with sse(srv, "bob") as bob:
            await bob.until_synced()


# -- commands per user ----------------------------------------------------------------------


async def test_commands_per_user_are_limited_across_all_their_connections(
    settings: Settings, plain_asgi: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """The abuse the limits are for: many connections of one user each asking ``status`` as fast
    as they may. Connections over the limit are refused, and the commands served across all
    the others stay within the user's budget; another user is served as usual."""
    connections, per_connection = 40, 60
    limit = settings.max_connections_per_user
    rate, burst = settings.user_command_budget
    async with serve(settings, plain_asgi=plain_asgi) as srv, contextlib.AsyncExitStack() as stack:
        with no_errors_logged(caplog):
            clients = [
                await stack.enter_async_context(Client.connect(srv, "ann"))
                for _ in range(connections)
            ]
            admitted: list[Client] = []
            for client in clients:
                first = await client.recv()
                if first["type"] == "welcome":
                    while (await client.recv())["type"] != "synced":
                        pass
                    admitted.append(client)
                else:
                    assert first["code"] == "rate_limited"
                    assert await close_code(client) == 4429
            assert len(admitted) == limit

            started = time.monotonic()

            async def flood(client: Client) -> list[Frame]:
                for i in range(per_connection):
                    await client.send({"type": "status", "id": i})
                return [await client.recv(timeout=30) for _ in range(per_connection)]

            replies = [r for rs in await asyncio.gather(*(flood(c) for c in admitted)) for r in rs]
            elapsed = time.monotonic() - started
            served = [r for r in replies if r["type"] == "status"]
            limited = [r for r in replies if r["type"] == "error"]
            assert len(served) + len(limited) == limit * per_connection
            assert {r["code"] for r in limited} == {"rate_limited"}
            assert any("from one user" in r["message"] for r in limited)
            assert len(served) <= burst + rate * elapsed + 1, (len(served), elapsed)
            # another user has a budget of their own
            async with Client.connect(srv, "bob") as bob:
                await bob.welcome()
                for _ in range(5):
                    assert (await bob.command({"type": "status"}))["type"] == "status"
            # and ann's budget refills: asked at half the refill rate, within a deadline (a count
            # of attempts as fast as the socket allows could all fall before one token is back)
            deadline = time.monotonic() + 10
            while True:
                reply = await admitted[0].command({"type": "ping"})
                if reply["type"] == "pong":
                    break
                assert reply["code"] == "rate_limited"
                assert time.monotonic() < deadline, "still rate limited after 10 s"
                await asyncio.sleep(2 / rate)  # the polling pace, not a wait for the result


async def test_the_user_budget_is_shared_but_each_connection_keeps_its_own_too(
    settings: Settings,
) -> None:
    tight = settings.with_(
        command_rate=0.001, command_burst=3, user_command_rate=0.001, user_command_burst=5
    )
    async with (
        serve(tight) as srv,
        Client.connect(srv, "ann") as a,
        Client.connect(srv, "ann") as b,
    ):
        await a.welcome()
        await b.welcome()
        got_a = [(await a.command({"type": "ping"}))["type"] for _ in range(4)]
        assert got_a == ["pong", "pong", "pong", "error"]  # the connection's own burst: 3
        got_b = [(await b.command({"type": "ping"}))["type"] for _ in range(4)]
        assert got_b == ["pong", "pong", "error", "error"]  # what is left of the user's 5


def test_stream_limits_are_settings_with_environment_names(tmp_path: Any) -> None:
    settings = Settings.from_env(
        {
            "GRACE_DATA_DIR": str(tmp_path),
            "GRACE_MAX_CONNECTIONS_PER_USER": "8",
            "GRACE_COMMAND_RATE": "10",
            "GRACE_COMMAND_BURST": "30",
            "GRACE_USER_COMMAND_RATE": "25.5",
            "GRACE_USER_COMMAND_BURST": "50",
        }
    )
    assert settings.max_connections_per_user == 8
    assert (settings.command_rate, settings.command_burst) == (10.0, 30)
    assert settings.user_command_budget == (25.5, 50)
    # unset, the user's budget is twice a connection's
    assert Settings(data_dir=tmp_path, command_rate=7, command_burst=9).user_command_budget == (
        14,
        18,
    )
    defaults = Settings(data_dir=tmp_path)
    assert defaults.max_connections_per_user == 32
    assert defaults.user_command_budget == (40.0, 120)
    for bad in (
        {"max_connections_per_user": 0},
        {"user_command_rate": 0.0},
        {"user_command_burst": 0},
        {"command_rate": -1.0},
    ):
        with pytest.raises(ConfigError):
            Settings(data_dir=tmp_path, **bad)


# -- a client that never reads --------------------------------------------------------------

#: Per notification: incompressible, so the bytes really queue up somewhere.
BLOB = secrets.token_urlsafe(3_000)
FLOOD = 3_000
BIG_BLOB = secrets.token_urlsafe(100_000)
MiB = 1024 * 1024


async def collect_seqs(client: Client, count: int, into: list[int]) -> None:
    """Read ``count`` notifications, keeping only their seq (not their bodies' memory)."""
    while len(into) < count:
        frame = await client.recv(timeout=20)
        if "seq" in frame and "message" in frame:
            into.append(frame["seq"])


async def test_a_never_reading_client_is_cut_off_4008_with_bounded_memory(
    settings: Settings, plain_asgi: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """While notifications flood, one client stops reading its socket: the server holds at most
    its queue for it, then cuts it off with 4008 and drops the queue; another user receives
    everything meanwhile. Memory is measured with tracemalloc (the clients, in this process,
    hold next to nothing: one reads as it goes, the other has stopped)."""
    queue = 200
    async with serve(settings.with_(queue_max_frames=queue), plain_asgi=plain_asgi) as srv:
        hub = srv.grace.hub
        with no_errors_logged(caplog):
            async with (
                Client.connect(
                    srv, "ann", max_queue=1, max_size=None, sock=small_window_socket(srv.url)
                ) as stalled,
                Client.connect(srv, "bob", max_size=None) as bob,
            ):
                await stalled.welcome()
                await bob.welcome()
                (box,) = hub._users["ann"]
                got: list[int] = []
                gc.collect()
                tracemalloc.start()
                try:
                    baseline, _ = tracemalloc.get_traced_memory()
                    reader = asyncio.create_task(collect_seqs(bob, FLOOD, got))
                    for i in range(FLOOD):  # ann no longer reads from here on
                        await srv.grace.notifier.notify_users(
                            ["ann", "bob"], "test", f"n{i}", data={"blob": BLOB}
                        )
                    await asyncio.wait_for(reader, 30)
                    await until(lambda: box.overflowed, 10, "the stalled client's cut-off")
                    gc.collect()
                    after, peak = tracemalloc.get_traced_memory()
                finally:
                    tracemalloc.stop()
                published = FLOOD * len(BLOB)
                report = (
                    f"published {published / MiB:.1f} MiB to each user; traced memory "
                    f"{baseline / MiB:.2f} MiB before, peak {peak / MiB:.2f}, "
                    f"after {after / MiB:.2f}"
                )
                print(f"\n[{'asgi' if plain_asgi else 'native'}] {report}")
                # bounded by the queue, not by what was published to the stalled client
                assert peak - baseline < 2 * queue * len(BLOB) + MiB < published / 4, report
                assert after - baseline < 2 * MiB, report
                # the stalled connection's queue is dropped and it is out of the hub
                assert box.closed and len(box) == 0
                assert hub.connection_count("ann") == 0 and hub.connection_count("bob") == 1
                # the other user got everything, in order
                assert got == list(range(1, FLOOD + 1))
                # the stalled client reads again: what was in flight, then the close
                received: list[Frame] = []
                with pytest.raises(ConnectionClosed) as closed:
                    while True:
                        frame = await stalled.recv(timeout=10)
                        if "seq" in frame:
                            received.append(frame)
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 4008
                seqs = [f["seq"] for f in received]
                assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) < FLOOD
        # it resumes from the last seq it saw
        async with Client.connect(srv, "ann", since=seqs[-1] if seqs else 0, max_size=None) as c:
            _, replay, synced = await c.welcome()
        assert [f["seq"] for f in replay] == list(range(len(seqs) + 1, FLOOD + 1))
        assert synced["seq"] == FLOOD and "gap" not in synced


def server_side_open(port: int, client: tuple[str, int]) -> bool:
    """Whether the server still holds its end of the client's TCP connection (this process)."""
    return any(
        c.laddr and c.raddr and c.laddr[1] == port and tuple(c.raddr) == client
        for c in psutil.Process().net_connections(kind="tcp")
    )


async def test_a_client_that_never_reads_again_loses_its_socket_after_the_close_timeout(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the cut-off the client still does not read: its close frame and the frames before
    it stay unsent, so the server drops the connection once the closing handshake times out
    instead of keeping its buffers (and socket) for as long as the peer stays silent.

    Native driver only: through ASGI the server's transport is out of reach (under uvicorn, the
    socket stays until the peer reads or goes away; see docs/security.md)."""
    monkeypatch.setattr(wsproto, "CLOSE_TIMEOUT", 0.5)
    async with serve(settings.with_(queue_max_frames=50)) as srv:
        port = int(srv.url.rsplit(":", 1)[1])
        sock = small_window_socket(srv.url)
        here = sock.getsockname()
        async with Client.connect(
            srv, "ann", max_queue=1, max_size=None, sock=sock, close_timeout=0.1
        ) as stalled:
            await stalled.welcome()
            (box,) = srv.grace.hub._users["ann"]
            for i in range(2_000):  # until the kernel's buffers, then the server's, are full
                await srv.grace.notify_user("ann", "test", f"n{i}", data={"blob": BIG_BLOB})
                if box.overflowed:
                    break
            assert box.overflowed
            assert server_side_open(port, here)
            await until(lambda: not server_side_open(port, here), 10, "the server to drop it")
