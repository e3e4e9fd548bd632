"""Several real ``grace serve`` processes on one PostgreSQL database (a schema of the test's
own) and the machine's Redis (a channel prefix of the test's own), with WebSocket clients
spread over them: what one process publishes reaches the clients of every other live, once
and in order; a client that moves to another process resumes exactly once; ``read`` frames
cross processes; and when one process of three is killed with SIGKILL, its clients move to
the survivors and end with every notification exactly once, in order.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from grace_chat.auth import TokenAuthority
from tests.support.grace_process import GraceProcess, until
from tests.support.nginx import free_port, nginx, nginx_binary

SECRET = "a-signing-secret-the-processes-share-32+"
TOKENS = TokenAuthority(SECRET, 3600)
ADMIN = TOKENS.issue("backend", admin=True)
STREAM = "/api/notifications/stream"
SSE = "/api/notifications/sse"


class Client:
    """One chat of ``user``: a WebSocket on some process, following its log from ``seq``."""

    def __init__(self, user: str) -> None:
        self.user = user
        self.token = TOKENS.issue(user)
        self.frames: list[dict[str, Any]] = []
        self.last = 0
        self.server = ""
        self.ws: Any = None
        self.reader: asyncio.Task[None] | None = None
        self.replies: dict[str, dict[str, Any]] = {}

    @property
    def seqs(self) -> list[int]:
        return [f["seq"] for f in self.frames if "id" in f and "seq" in f]

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [f for f in self.frames if f.get("type") == kind]

    async def connect(self, url: str) -> None:
        """Open the stream on the server at ``url``, resuming after the last ``seq`` seen;
        return once the replay is done."""
        self.server = url
        self.ws = await websockets.connect(url.replace("http", "ws", 1) + STREAM)
        await self.ws.send(json.dumps({"type": "hello", "token": self.token, "since": self.last}))
        synced = asyncio.get_running_loop().create_future()
        self.reader = asyncio.create_task(self._read(self.ws, synced))
        await asyncio.wait_for(synced, 20)

    async def _read(self, ws: Any, synced: asyncio.Future[None]) -> None:
        try:
            async for message in ws:
                for line in str(message).split("\n"):
                    frame = json.loads(line)
                    if "ref" in frame:
                        self.replies[frame["ref"]] = frame
                    elif "id" in frame and "seq" in frame:
                        self.frames.append(frame)
                        self.last = frame["seq"]
                    elif frame.get("type") == "synced" and not synced.done():
                        synced.set_result(None)
                    elif frame.get("type") not in ("welcome", "synced"):
                        self.frames.append(frame)
        except websockets.ConnectionClosed:
            pass

    @property
    def connected(self) -> bool:
        return self.reader is not None and not self.reader.done()

    async def send(self, command: dict[str, Any]) -> dict[str, Any]:
        await self.ws.send(json.dumps(command))
        ref = command["id"]
        await until(lambda: ref in self.replies, 10, f"the reply to {ref}")
        return self.replies[ref]

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            await self.reader


async def publish(server: GraceProcess, user: str, message: str) -> int:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        response = await http.post(
            "/api/notifications/publish",
            json={"user_id": user, "type": "task_completed", "message": message},
            headers={"Authorization": f"Bearer {ADMIN}"},
        )
    assert response.status_code == 201, response.text
    seq: int = response.json()["seq"]
    return seq


async def head(server: GraceProcess, user: str) -> int:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        response = await http.get(
            "/api/notifications",
            params={"limit": 1},
            headers={"Authorization": f"Bearer {TOKENS.issue(user)}"},
        )
    assert response.status_code == 200, response.text
    return int(response.json()["seq"])


@pytest.fixture
async def servers(
    postgres_url: str, redis_url: str, redis_prefix: str, tmp_path: Path
) -> AsyncIterator[list[GraceProcess]]:
    """Three ``grace serve`` processes sharing one database, one Redis channel, one secret."""
    env = {
        "GRACE_DATABASE_URL": postgres_url,
        "GRACE_REDIS_URL": redis_url,
        "GRACE_REDIS_PREFIX": redis_prefix,
        "GRACE_SECRET": SECRET,
    }
    started = await asyncio.gather(
        *(GraceProcess.start(tmp_path / f"p{n}", env=env) for n in range(3)),
        return_exceptions=True,
    )
    running = [s for s in started if isinstance(s, GraceProcess)]
    try:
        for outcome in started:
            if isinstance(outcome, BaseException):
                raise outcome
        yield running
    finally:
        for server in running:
            await server.kill()


async def test_published_on_one_process_every_clients_on_the_others_get_it_once_in_order(
    servers: list[GraceProcess],
) -> None:
    a, b, c = servers
    users = [f"reader{n}" for n in range(4)]
    clients = [Client(u) for u in users for _ in range(3)]
    for client, server in zip(clients, itertools.cycle((a, b, c)), strict=False):
        await client.connect(server.url)
    started = time.monotonic()
    per_user = 25
    for i in range(per_user):
        await asyncio.gather(*(publish(b, u, f"{u} #{i}") for u in users))
    await until(
        lambda: all(len(c.seqs) >= per_user for c in clients), 30, f"{per_user} frames each"
    )
    elapsed = time.monotonic() - started
    await asyncio.sleep(0.3)  # nothing more comes
    for client in clients:
        assert client.seqs == list(range(1, per_user + 1)), (client.user, client.server)
        assert [f["message"] for f in client.frames] == [
            f"{client.user} #{i}" for i in range(per_user)
        ]
    assert elapsed < 30
    for client in clients:
        await client.close()


async def test_a_client_that_moves_to_another_process_resumes_exactly_once(
    servers: list[GraceProcess],
) -> None:
    a, b, c = servers
    mover = Client("mover")
    await mover.connect(a.url)
    for i in range(10):
        await publish(b, "mover", f"#{i}")
    await until(lambda: len(mover.seqs) == 10, 10, "ten live frames on A")
    await mover.close()
    for i in range(10, 20):
        await publish(b, "mover", f"#{i}")  # while it is away
    await mover.connect(c.url)  # resumes from seq 10 on another process
    assert mover.seqs == list(range(1, 21))
    for i in range(20, 30):
        await publish(a, "mover", f"#{i}")
    await until(lambda: len(mover.seqs) >= 30, 10, "live frames on C from A")
    await asyncio.sleep(0.2)
    assert mover.seqs == list(range(1, 31))
    assert [f["message"] for f in mover.frames] == [f"#{i}" for i in range(30)]
    await mover.close()


async def test_mark_read_on_one_process_updates_the_users_chats_on_the_others(
    servers: list[GraceProcess],
) -> None:
    a, b, c = servers
    asking, beside, far, farther = (Client("reader") for _ in range(4))
    for client, server in ((asking, a), (beside, a), (far, b), (farther, c)):
        await client.connect(server.url)
    for i in range(3):
        await publish(c, "reader", f"#{i}")
    await until(lambda: all(len(x.seqs) == 3 for x in (asking, beside, far, farther)), 10, "3")
    reply = await asking.send({"type": "mark_read", "id": "r1", "all": True})
    assert reply.get("type") != "error", reply
    await until(lambda: all(x.of_type("read") for x in (beside, far, farther)), 10, "read")
    await asyncio.sleep(0.3)
    for other in (beside, far, farther):
        (read,) = other.of_type("read")
        assert read["all"] is True and read["unread"] == 0 and read["marked"] == 3
    assert asking.of_type("read") == []  # the asking chat has its reply instead
    for client in (asking, beside, far, farther):
        await client.close()


async def test_a_process_killed_mid_stream_its_clients_resume_on_the_others_exactly_once(
    servers: list[GraceProcess],
) -> None:
    """Twelve clients of six users, a third on each process; notifications published on all
    three while C is killed with SIGKILL; C's clients reconnect to A or B, and every client
    ends with its user's whole log, exactly once, in order."""
    a, b, c = servers
    users = [f"user{n}" for n in range(6)]
    clients = [Client(u) for u in users for _ in range(2)]
    placed = dict(zip(clients, itertools.cycle((a, b, c)), strict=False))
    for client, server in placed.items():
        await client.connect(server.url)
    on_c = [cl for cl, s in placed.items() if s is c]
    assert len(on_c) == 4
    alive = [a, b, c]
    published = 0
    stop = asyncio.Event()

    async def publisher(user: str) -> None:
        nonlocal published
        for i in itertools.count():
            if stop.is_set():
                return
            server = alive[i % len(alive)]
            try:
                await publish(server, user, f"{user} #{i}")
                published += 1
            except (httpx.HTTPError, AssertionError):
                await asyncio.sleep(0.05)  # that process is gone: the next one takes it

    async def follow(client: Client) -> None:
        """A client's reconnect loop: to the next live process, resuming from its seq."""
        while not stop.is_set():
            if not client.connected:
                server = alive[hash(client) % len(alive)]
                try:
                    await client.connect(server.url)
                except (OSError, websockets.WebSocketException, TimeoutError):
                    await asyncio.sleep(0.05)
                    continue
            await asyncio.sleep(0.02)

    started = time.monotonic()
    tasks = [asyncio.create_task(publisher(u)) for u in users]
    followers = [asyncio.create_task(follow(cl)) for cl in clients]
    try:
        await until(lambda: published >= 60, 30, "60 notifications before the kill")
        alive.remove(c)
        c.proc.send_signal(signal.SIGKILL)
        assert await c.exited() == -signal.SIGKILL
        await until(lambda: all(cl.connected and cl.server != c.url for cl in on_c), 20, "moved")
        mark = published
        await until(lambda: published >= mark + 60, 30, "60 more after the kill")
    finally:
        stop.set()
        await asyncio.gather(*tasks, *followers)
    heads = {u: await head(a, u) for u in users}
    await until(
        lambda: all(len(cl.seqs) >= heads[cl.user] for cl in clients), 20, "every client complete"
    )
    elapsed = time.monotonic() - started
    await asyncio.sleep(0.3)
    for client in clients:
        assert client.seqs == list(range(1, heads[client.user] + 1)), (client.user, client.server)
    assert sum(heads.values()) >= 120 and elapsed < 90
    for client in clients:
        await client.close()


# -- behind nginx -------------------------------------------------------------------------------


async def test_clients_through_nginx_stay_complete_while_processes_stop_and_start(
    postgres_url: str, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    """nginx round-robin before three processes (the configuration of docs/deploy.md); nine
    WebSocket clients and one SSE client of three users connect, and publishers write, through
    it only; one process is stopped, started again, then another: every client reconnects
    through nginx wherever it lands and ends with its user's whole log, once, in order."""
    env = {
        "GRACE_DATABASE_URL": postgres_url,
        "GRACE_REDIS_URL": redis_url,
        "GRACE_REDIS_PREFIX": redis_prefix,
        "GRACE_SECRET": SECRET,
    }
    nginx_binary()
    ports = [free_port() for _ in range(3)]

    async def start(n: int) -> GraceProcess:
        return await GraceProcess.start(tmp_path / f"p{n}", "--port", str(ports[n]), env=env)

    procs = list(await asyncio.gather(*(start(n) for n in range(3))))
    users = ["ann", "bob", "cat"]
    clients = [Client(u) for u in users for _ in range(3)]
    sse_seqs: list[int] = []
    stop = asyncio.Event()
    published = 0
    tasks: list[asyncio.Task[None]] = []
    try:
        async with nginx(tmp_path / "nginx", ports) as lb:

            async def publisher(user: str) -> None:
                nonlocal published
                async with httpx.AsyncClient(base_url=lb, timeout=10) as http:
                    for i in itertools.count():
                        if stop.is_set():
                            return
                        try:
                            response = await http.post(
                                "/api/notifications/publish",
                                json={"user_id": user, "type": "task_completed", "message": f"{i}"},
                                headers={"Authorization": f"Bearer {ADMIN}"},
                            )
                        except httpx.HTTPError:
                            response = None
                        if response is not None and response.status_code == 201:
                            published += 1
                            await asyncio.sleep(0.01)
                        else:
                            await asyncio.sleep(0.05)

            async def follow(client: Client) -> None:
                while not stop.is_set():
                    if not client.connected:
                        try:
                            await client.connect(lb)
                        except (OSError, websockets.WebSocketException, TimeoutError):
                            await asyncio.sleep(0.05)
                            continue
                    await asyncio.sleep(0.02)

            async def sse_follow(user: str) -> None:
                auth = {"Authorization": f"Bearer {TOKENS.issue(user)}"}
                timeout = httpx.Timeout(10, read=None)
                async with httpx.AsyncClient(base_url=lb, timeout=timeout) as http:
                    while True:
                        since = sse_seqs[-1] if sse_seqs else 0
                        try:
                            async with http.stream(
                                "GET",
                                "/api/notifications/sse",
                                params={"since": since},
                                headers=auth,
                            ) as response:
                                if response.status_code == 200:
                                    async for line in response.aiter_lines():
                                        if line.startswith("data:"):
                                            frame = json.loads(line[5:])
                                            if "id" in frame and "seq" in frame:
                                                sse_seqs.append(frame["seq"])
                        except httpx.HTTPError:
                            pass
                        await asyncio.sleep(0.05)

            for client in clients:
                await client.connect(lb)
            assert len({c.server for c in clients}) == 1  # all through nginx
            started = time.monotonic()
            tasks += [asyncio.create_task(publisher(u)) for u in users]
            tasks += [asyncio.create_task(follow(c)) for c in clients]
            tasks.append(asyncio.create_task(sse_follow("ann")))
            for victim in (0, 1):
                mark = published
                await until(lambda m=mark: published >= m + 30, 30, "30 notifications")
                procs[victim].proc.send_signal(signal.SIGTERM)
                assert await procs[victim].exited() in (0, -signal.SIGTERM)
                mark = published
                await until(lambda m=mark: published >= m + 30, 30, "30 more, one process down")
                procs[victim] = await start(victim)
            mark = published
            await until(lambda m=mark: published >= m + 30, 30, "30 more, all three up")
            stop.set()
            await asyncio.gather(*tasks[: len(users) + len(clients)])
            heads = {u: await head(procs[2], u) for u in users}
            await until(
                lambda: (
                    all(len(c.seqs) >= heads[c.user] for c in clients)
                    and len(sse_seqs) >= heads["ann"]
                ),
                20,
                "every client complete",
            )
            elapsed = time.monotonic() - started
            await asyncio.sleep(0.3)
            for client in clients:
                assert client.seqs == list(range(1, heads[client.user] + 1)), client.user
            assert sse_seqs == list(range(1, heads["ann"] + 1))
            assert sum(heads.values()) >= 150 and elapsed < 120
            for client in clients:
                await client.close()
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for proc in procs:
            await proc.kill()
