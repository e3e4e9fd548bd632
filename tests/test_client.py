"""``grace_chat.client`` against real servers: iteration that survives a restart of a real
``grace serve`` process with nothing lost or repeated, a replaced log, a cursor store, every
command's reply and typed error, SSE when a proxy refuses WebSocket upgrades, and clear failures
for bad URLs, refused tokens and unreachable servers."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from grace_chat.api.app import create_app
from grace_chat.api.server import base_url, listen
from grace_chat.app import Grace
from grace_chat.client import (
    Cursor,
    FileCursorStore,
    GraceClient,
    MemoryCursorStore,
    RetryPolicy,
    StreamListener,
    Transport,
)
from grace_chat.config import Settings
from grace_chat.errors import (
    BadRequest,
    BadURL,
    Conflict,
    Forbidden,
    NotFound,
    RateLimited,
    RetriesExhausted,
    Unauthenticated,
)
from grace_chat.frames import NotificationFrame, SyncedFrame, WelcomeFrame
from tests.support import Running, until
from tests.support.grace_process import GraceProcess, mint

FAST = RetryPolicy(max_attempts=100, initial_delay=0.05, max_delay=0.5, connect_timeout=5)


class Recorder(StreamListener):
    def __init__(self) -> None:
        self.welcomes: list[WelcomeFrame] = []
        self.transports: list[str] = []
        self.synced_frames: list[SyncedFrame] = []
        self.disconnects: list[str] = []
        self.fallbacks: list[str] = []
        self.epochs: list[tuple[str, str]] = []
        self.delays: list[float] = []

    def connected(self, welcome: WelcomeFrame, transport: str) -> None:
        self.welcomes.append(welcome)
        self.transports.append(transport)

    def synced(self, synced: SyncedFrame) -> None:
        self.synced_frames.append(synced)

    def disconnected(self, reason: str, attempt: int, retry_in: float) -> None:
        self.disconnects.append(reason)
        self.delays.append(retry_in)

    def fell_back(self, reason: str) -> None:
        self.fallbacks.append(reason)

    def epoch_changed(self, old: str, new: str) -> None:
        self.epochs.append((old, new))


async def publish(url: str, admin: str, user: str, message: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        response = await http.post(
            "/api/notifications/publish",
            json={"user_id": user, "type": "task_completed", "message": message},
            headers={"Authorization": f"Bearer {admin}"},
        )
    assert response.status_code == 201, response.text
    frame: dict[str, Any] = response.json()
    return frame


class Collector:
    """Iterates a client's notifications in a task, keeping what it got."""

    def __init__(self, client: GraceClient, since: int | Cursor | None = None) -> None:
        self.got: list[NotificationFrame] = []
        self.error: BaseException | None = None
        self.task = asyncio.create_task(self._run(client, since))

    async def _run(self, client: GraceClient, since: int | Cursor | None) -> None:
        try:
            async with contextlib.aclosing(client.notifications(since)) as stream:
                async for notification in stream:
                    self.got.append(notification)
        except BaseException as exc:
            self.error = exc
            raise

    async def count(self, n: int, timeout: float = 20) -> None:
        def enough() -> bool:
            if self.task.done() and self.error is not None:
                raise AssertionError(f"the stream failed: {self.error!r}")
            return len(self.got) >= n

        await until(enough, timeout, f"{n} notifications (have {len(self.got)})")

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# -- resume across a real server's restart ------------------------------------------------------


async def test_iteration_survives_a_server_restart_with_nothing_lost_or_repeated(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    port = free_port()
    server = await GraceProcess.start(data, "--port", str(port))
    admin = mint(data, "root", admin=True)
    listener = Recorder()
    client = GraceClient(server.url, mint(data, "ann"), retry=FAST, listener=listener)
    collector = Collector(client, since=0)
    try:
        sent = [await publish(server.url, admin, "ann", f"before {i}") for i in range(5)]
        await collector.count(5)
        await server.kill()  # SIGKILL mid-iteration: no goodbye
        server = await GraceProcess.start(data, "--port", str(port))
        # published while the client is still away: the replay brings them
        sent += [await publish(server.url, admin, "ann", f"after {i}") for i in range(5)]
        await collector.count(10)
        sent += [await publish(server.url, admin, "ann", f"live {i}") for i in range(3)]
        await collector.count(13)
        server.proc.terminate()  # a graceful stop this time: the server closes with 1001
        await server.exited()
        server = await GraceProcess.start(data, "--port", str(port))
        sent += [await publish(server.url, admin, "ann", "third life")]
        await collector.count(14)
    finally:
        await collector.stop()
        await client.close()
        await server.kill()
    assert [n.seq for n in collector.got] == [f["seq"] for f in sent] == list(range(1, 15))
    assert [n.message for n in collector.got] == [f["message"] for f in sent]
    assert len(listener.welcomes) >= 3 and listener.disconnects
    assert len({w.epoch for w in listener.welcomes}) == 1


async def test_a_replaced_log_new_epoch_is_read_from_its_beginning(tmp_path: Path) -> None:
    data = tmp_path / "data"
    port = free_port()
    server = await GraceProcess.start(data, "--port", str(port))
    admin = mint(data, "root", admin=True)
    listener = Recorder()
    client = GraceClient(server.url, mint(data, "ann"), retry=FAST, listener=listener)
    collector = Collector(client, since=0)
    try:
        for i in range(3):
            await publish(server.url, admin, "ann", f"old {i}")
        await collector.count(3)
        await server.kill()
        for name in ("grace.db", "grace.db-wal", "grace.db-shm"):
            (data / name).unlink(missing_ok=True)  # the secret stays: tokens still work
        server = await GraceProcess.start(data, "--port", str(port))
        for i in range(2):
            await publish(server.url, admin, "ann", f"new {i}")
        await collector.count(5)
    finally:
        await collector.stop()
        await client.close()
        await server.kill()
    assert [(n.seq, n.message) for n in collector.got] == [
        (1, "old 0"),
        (2, "old 1"),
        (3, "old 2"),
        (1, "new 0"),
        (2, "new 1"),
    ]
    assert len(listener.epochs) == 1
    old, new = listener.epochs[0]
    assert old != new and client.cursor == Cursor(new, 2)


# -- against a server in this process -----------------------------------------------------------


async def test_a_cursor_store_resumes_a_restarted_consumer_after_the_last_handled(
    server: Running, tmp_path: Path
) -> None:
    admin = server.token("root", admin=True)
    for i in range(5):
        await publish(server.url, admin, "ann", f"n{i}")
    store = FileCursorStore(tmp_path / "cursor.json")
    async with GraceClient(server.url, server.token("ann"), cursor_store=store) as first:
        handled = []
        async with contextlib.aclosing(first.notifications(since=0)) as stream:
            async for notification in stream:
                handled.append(notification.seq)
                if notification.seq == 3:
                    break
    assert handled == [1, 2, 3]
    stored = await store.load()
    assert stored is not None and stored.seq == 3
    # the consumer "restarts": a new client with the same store and no since
    async with GraceClient(server.url, server.token("ann"), cursor_store=store) as second:
        collector = Collector(second)
        await collector.count(2)
        await publish(server.url, admin, "ann", "live")
        await collector.count(3)
        await collector.stop()
    assert [n.seq for n in collector.got] == [4, 5, 6]
    assert [n.message for n in collector.got] == ["n3", "n4", "live"]


async def test_since_none_starts_with_what_comes_live_and_a_gap_is_reported(
    server: Running,
) -> None:
    admin = server.token("root", admin=True)
    await publish(server.url, admin, "ann", "old")
    listener = Recorder()
    async with GraceClient(server.url, server.token("ann"), listener=listener) as client:
        collector = Collector(client)
        await until(lambda: bool(listener.synced_frames), 10, "synced")
        await publish(server.url, admin, "ann", "new")
        await collector.count(1)
        await collector.stop()
    assert [n.message for n in collector.got] == ["new"]
    assert listener.welcomes[0].user_id == "ann" and listener.transports == ["websocket"]
    memory = MemoryCursorStore(Cursor(None, 99))  # ahead of the log: the server says gap
    listener = Recorder()
    async with GraceClient(
        server.url, server.token("ann"), cursor_store=memory, listener=listener
    ) as client:
        collector = Collector(client)
        await until(lambda: bool(listener.synced_frames), 10, "synced")
        await collector.stop()
    assert listener.synced_frames[0].gap is True


TASKS = {"quick": {"command": "echo hello from quick"}, "slow": {"command": "sleep 30"}}


@pytest.fixture
async def commands_server(settings: Settings) -> AsyncIterator[Running]:
    from tests.support import serve

    async with serve(settings.with_(file={**settings.file, "tasks": TASKS})) as running:
        yield running


async def ask_approval(srv: Running, user: str) -> str:
    async with httpx.AsyncClient(base_url=srv.url, headers=srv.auth("root", admin=True)) as http:
        response = await http.post(
            "/api/approvals",
            json={"action_type": "restart_service", "agent": "bot", "user_id": user},
        )
    assert response.status_code == 201, response.text
    approval_id: str = response.json()["approval_id"]
    return approval_id


@pytest.mark.parametrize("transport", ["websocket", "sse"])
async def test_every_command_returns_its_typed_reply(
    commands_server: Running, transport: Transport
) -> None:
    """Over the WebSocket, and over REST (what the client uses when it cannot open one)."""
    srv = commands_server
    admin = srv.token("root", admin=True)
    first = await publish(srv.url, admin, "ann", "one")
    await publish(srv.url, admin, "ann", "two")
    async with GraceClient(srv.url, srv.token("ann"), transport=transport) as grace:
        assert (await grace.ping()).type == "pong"
        assert (await grace.ack(2)).seq == 2
        read = await grace.mark_read([first["id"]])
        assert (read.marked, read.unread) == (1, 1)
        assert (await grace.mark_read(all=True)).unread == 0
        started = await grace.start_task("quick")
        assert started.task.task_type == "quick"
        task_id = started.task.task_id
        listing = await grace.list_tasks()
        assert task_id in {t.task_id for t in listing.tasks}
        slow = (await grace.start_task("slow", task_id="slow-1")).task
        assert slow.task_id == "slow-1"
        assert (await grace.pause_task("slow-1")).task.task_id == "slow-1"
        assert (await grace.resume_task("slow-1")).task.task_id == "slow-1"
        assert (await grace.cancel_task("slow-1")).task.task_id == "slow-1"
        logs = await grace.task_logs(task_id)
        assert logs.task_id == task_id
        paused = await grace.pause_learning()
        assert (paused.scope, paused.state) == ("own", "paused")
        assert (await grace.resume_learning()).state == "running"
        approval_id = await ask_approval(srv, "ann")
        approved = await grace.approve(approval_id, "looks fine")
        assert approved.decided and approved.approval.state == "approved"
        assert approved.approval.reason == "looks fine"
        assert (await grace.reject(approval_id)).decided is False  # the approval stood
        other = await ask_approval(srv, "ann")
        assert (await grace.reject(other)).approval.state == "rejected"
        assert (await grace.status()).summary
        assert (await grace.chat("what is running?")).text


@pytest.mark.parametrize("transport", ["websocket", "sse"])
async def test_each_error_code_raises_its_typed_exception_with_the_message(
    commands_server: Running, transport: Transport
) -> None:
    srv = commands_server
    bobs = await ask_approval(srv, "bob")
    async with GraceClient(srv.url, srv.token("ann"), transport=transport) as grace:
        with pytest.raises(NotFound) as missing:
            await grace.cancel_task("no-such-task")
        assert missing.value.message and "no-such-task" in str(missing.value)
        with pytest.raises(NotFound):
            await grace.start_task("no-such-type")
        with pytest.raises(Forbidden):
            await grace.approve(bobs)
        with pytest.raises(Forbidden):
            await grace.pause_learning("all")  # everyone's gate: admins only
        done = (await grace.start_task("quick")).task.task_id
        await until_finished(grace, done)
        with pytest.raises(Conflict) as conflict:
            await grace.pause_task(done)
        assert conflict.value.message
        with pytest.raises(BadRequest):
            await grace.task_logs("x", limit=0)  # checked before it is sent
        if transport == "sse":
            return  # REST has no command rate: the limit is the WebSocket connection's
        with pytest.raises(RateLimited):
            await asyncio.gather(*(grace.ping() for _ in range(200)))
        # the connection stays usable: once the bucket refills, commands pass again
        deadline = asyncio.get_running_loop().time() + 10
        while True:
            try:
                assert (await grace.ping()).type == "pong"
                break
            except RateLimited:
                assert asyncio.get_running_loop().time() < deadline, "still rate limited"
                await asyncio.sleep(0.1)


async def until_finished(grace: GraceClient, task_id: str) -> None:
    for _ in range(500):
        tasks = {t.task_id: t for t in (await grace.list_tasks()).tasks}
        if tasks[task_id].state in {"succeeded", "failed"}:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"task {task_id} did not finish")


# -- SSE when the WebSocket cannot be opened ----------------------------------------------------


@contextlib.asynccontextmanager
async def behind_a_proxy_refusing_upgrades(settings: Settings) -> AsyncIterator[Running]:
    """Grace's ASGI app behind a layer that turns every WebSocket away (HTTP 403), as a proxy
    that does not pass upgrades does."""
    grace = Grace(settings)
    app = create_app(grace)

    async def no_upgrades(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await app(scope, receive, send)

    sock = listen("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(no_upgrades, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await until(lambda: server.started or task.done(), 10, "server start")
        yield Running(grace, base_url("127.0.0.1", sock.getsockname()[1]))
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


async def test_sse_carries_the_stream_when_a_proxy_refuses_websocket_upgrades(
    settings: Settings,
) -> None:
    async with behind_a_proxy_refusing_upgrades(settings) as srv:
        admin = srv.token("root", admin=True)
        for i in range(3):
            await publish(srv.url, admin, "ann", f"replayed {i}")
        listener = Recorder()
        async with GraceClient(srv.url, srv.token("ann"), listener=listener) as client:
            collector = Collector(client, since=1)
            await collector.count(2)
            await publish(srv.url, admin, "ann", "live")
            await collector.count(3)
            await collector.stop()
            # the stream resumes after the last one, over SSE again
            collector = Collector(client)
            await publish(srv.url, admin, "ann", "later")
            await collector.count(1)
            await collector.stop()
            # and the commands go over REST
            approval_id = await ask_approval(srv, "ann")
            assert (await client.approve(approval_id)).approval.state == "approved"
            with pytest.raises(NotFound):
                await client.cancel_task("nothing-here")
    assert [n.message for n in collector.got] == ["later"]
    assert len(listener.fallbacks) == 1 and "403" in listener.fallbacks[0]
    assert set(listener.transports) == {"sse"}


async def test_sse_resumes_across_reconnects_exactly_once(server: Running) -> None:
    admin = server.token("root", admin=True)
    for i in range(3):
        await publish(server.url, admin, "ann", f"m{i}")
    async with GraceClient(server.url, server.token("ann"), transport="sse") as client:
        collector = Collector(client, since=0)
        await collector.count(3)
        await collector.stop()
        await publish(server.url, admin, "ann", "m3")
        collector = Collector(client)  # where the last stream stopped
        await collector.count(1)
        await collector.stop()
    assert [n.seq for n in collector.got] == [4]


# -- clear failures -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["ftp://127.0.0.1", "http://", "127.0.0.1:8000", "http://h:99999", "http://h/?a=1"]
)
def test_a_bad_url_is_refused_at_once(url: str) -> None:
    with pytest.raises(BadURL) as refused:
        GraceClient(url, "token")
    assert url in str(refused.value)


async def test_a_refused_token_raises_at_once_without_retrying(server: Running) -> None:
    listener = Recorder()
    transports: tuple[Transport, ...] = ("websocket", "sse")
    for transport in transports:
        async with GraceClient(
            server.url, "not-a-token", listener=listener, transport=transport
        ) as client:
            with pytest.raises(Unauthenticated):
                async for _ in client.notifications():
                    pass
            with pytest.raises(Unauthenticated):
                await client.ping()
    assert listener.disconnects == []


async def test_a_token_that_expires_mid_stream_ends_it(server: Running) -> None:
    listener = Recorder()
    token = server.token("ann", ttl=1)
    async with GraceClient(server.url, token, listener=listener) as client:
        with pytest.raises(Unauthenticated) as expired:
            async with asyncio.timeout(15):
                async for _ in client.notifications():
                    pass
    assert "expired" in str(expired.value)
    assert listener.disconnects == []


async def test_an_unreachable_server_exhausts_the_retry_policy() -> None:
    listener = Recorder()
    policy = RetryPolicy(max_attempts=3, initial_delay=0.01, max_delay=0.02)
    url = f"http://127.0.0.1:{free_port()}"
    async with GraceClient(url, "token", retry=policy, listener=listener) as client:
        with pytest.raises(RetriesExhausted) as gave_up:
            async for _ in client.notifications():
                pass
    assert gave_up.value.attempts == 3 and "cannot connect" in gave_up.value.last
    assert len(listener.disconnects) == 2


async def test_a_user_with_too_many_streams_open_waits_long_before_each_retry(
    settings: Settings,
) -> None:
    from tests.support import serve

    listener = Recorder()
    policy = RetryPolicy(max_attempts=2, initial_delay=0.01, max_delay=0.3)
    async with (
        serve(settings.with_(max_connections_per_user=1)) as srv,
        GraceClient(srv.url, srv.token("ann")) as first,
    ):
        holding = Collector(first)
        await until(lambda: first.cursor.epoch is not None, 10, "the first stream")
        for transport in ("websocket", "sse"):
            async with GraceClient(
                srv.url, srv.token("ann"), retry=policy, listener=listener, transport=transport
            ) as second:
                with pytest.raises(RetriesExhausted) as gave_up:
                    async for _ in second.notifications():
                        pass
            assert "too many streams open" in gave_up.value.last
        await holding.stop()
    assert len(listener.disconnects) == 2 and listener.delays == [0.3, 0.3]


def test_the_retry_policy_backs_off_with_jitter_and_is_bounded() -> None:
    policy = RetryPolicy(max_attempts=4, initial_delay=1, max_delay=8, jitter=0.5)
    delays = [policy.delay(n) for n in range(1, 7)]
    for delay, nominal in zip(delays, [1, 2, 4, 8, 8, 8], strict=True):
        assert nominal * 0.5 <= delay <= nominal * 1.5
    assert not policy.gives_up(3) and policy.gives_up(4)
    assert not RetryPolicy(max_attempts=None).gives_up(10**6)
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
