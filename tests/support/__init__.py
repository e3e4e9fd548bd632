"""Test helpers: a real Grace server on a loopback port, and a protocol-level WebSocket client."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import uvicorn
import websockets
from websockets.asyncio.client import ClientConnection

from grace_chat.api.app import create_app
from grace_chat.api.server import base_url, listen, make_server
from grace_chat.app import Grace
from grace_chat.config import Settings

Frame = dict[str, Any]


@dataclass
class Running:
    grace: Grace
    url: str

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/api/notifications/stream"

    def token(self, user: str, *, admin: bool = False, ttl: int | None = None) -> str:
        return self.grace.tokens.issue(user, admin=admin, ttl=ttl)

    def auth(self, user: str, *, admin: bool = False) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user, admin=admin)}"}

    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=10)


def small_window_socket(url: str) -> socket.socket:
    """A connected socket with a tiny receive buffer, so a client that stops reading stalls the
    server's writes after a few hundred kilobytes instead of tens of megabytes."""
    parts = urlsplit(url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16_384)
    sock.connect((parts.hostname, parts.port))
    sock.setblocking(False)
    return sock


def error_body(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code
    message: str = body["error"]["message"]
    assert message and "Traceback" not in message
    return message


async def until(
    predicate: Callable[[], bool], timeout: float = 5.0, what: str = "condition"
) -> None:
    """Poll ``predicate`` until true, failing after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


@asynccontextmanager
async def serve(
    settings: Settings, grace: Grace | None = None, *, plain_asgi: bool = False
) -> AsyncIterator[Running]:
    """Grace on a loopback port; ``plain_asgi`` runs it under stock uvicorn WebSockets instead of
    Grace's protocol (no frame sink), as another ASGI server would."""
    grace = grace or Grace(settings)
    app = create_app(grace)
    sock = listen("127.0.0.1", 0)
    port = sock.getsockname()[1]
    if plain_asgi:
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                ws="websockets-sansio",
                ws_max_size=settings.max_message_bytes,
                log_level="warning",
                lifespan="on",
            )
        )
    else:
        server = make_server(app, settings.with_(log_level="warning"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await until(lambda: server.started or task.done(), 10, "server start")
        if task.done():
            task.result()
            raise AssertionError("server stopped during start-up")
        yield Running(grace, base_url("127.0.0.1", port))
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


class Client:
    """A WebSocket connection that splits packed messages into frames."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.buffer: list[Frame] = []
        self._next_id = 0

    @classmethod
    @asynccontextmanager
    async def connect(
        cls,
        srv: Running,
        user: str | None = None,
        *,
        since: int | None = None,
        hello: bool = True,
        token: str | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[Client]:
        async with websockets.connect(srv.ws_url, **kwargs) as ws:
            client = cls(ws)
            if hello:
                assert user is not None or token is not None
                await client.send(
                    {"type": "hello", "token": token or srv.token(user or ""), "since": since}
                )
            yield client

    async def send(self, frame: Frame | str) -> None:
        await self.ws.send(frame if isinstance(frame, str) else json.dumps(frame))

    async def recv(self, timeout: float = 5.0) -> Frame:
        if not self.buffer:
            message = await asyncio.wait_for(self.ws.recv(), timeout)
            self.buffer.extend(json.loads(line) for line in str(message).split("\n"))
        return self.buffer.pop(0)

    async def expect(self, kind: str, timeout: float = 5.0) -> Frame:
        """Next frame, which must be of type ``kind``."""
        frame = await self.recv(timeout)
        assert frame["type"] == kind, f"expected {kind}, got {frame}"
        return frame

    async def welcome(self) -> tuple[Frame, list[Frame], Frame]:
        """Read welcome, the replayed notifications, and synced."""
        welcome = await self.expect("welcome")
        replay: list[Frame] = []
        while (frame := await self.recv())["type"] != "synced":
            replay.append(frame)
        return welcome, replay, frame

    async def notifications(self, count: int, timeout: float = 5.0) -> list[Frame]:
        got: list[Frame] = []
        deadline = time.monotonic() + timeout
        while len(got) < count:
            frame = await self.recv(max(0.01, deadline - time.monotonic()))
            if "seq" in frame and "message" in frame:
                got.append(frame)
        return got

    async def until(
        self, kind: str, timeout: float = 10.0, *, skip_progress: bool = True
    ) -> list[Frame]:
        """Notifications up to and including the first of type ``kind`` (``task_progress`` ones
        left out unless ``skip_progress`` is false)."""
        got: list[Frame] = []
        while True:
            (frame,) = await self.notifications(1, timeout)
            if not (skip_progress and frame["type"] == "task_progress"):
                got.append(frame)
            if frame["type"] == kind:
                return got

    @property
    def last_ref(self) -> str:
        """The ``id`` the latest ``command`` sent (its reply carries it as ``ref``)."""
        return f"c{self._next_id}"

    async def command(self, frame: Frame, timeout: float = 5.0) -> Frame:
        """Send a command with a fresh id and return the frame whose ``ref`` answers it."""
        self._next_id += 1
        ref = f"c{self._next_id}"
        await self.send({**frame, "id": ref})
        deadline = time.monotonic() + timeout
        skipped: list[Frame] = []
        try:
            while True:
                reply = await self.recv(max(0.01, deadline - time.monotonic()))
                if reply.get("ref") == ref:
                    return reply
                skipped.append(reply)
        finally:
            self.buffer[:0] = skipped  # frames that arrived meanwhile stay readable, in order
