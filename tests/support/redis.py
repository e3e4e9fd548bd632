"""Redis for the tests: the machine's server, a channel prefix per test (so runs and tests never
hear each other), and a proxy socket a test can cut and restore to play an outage without
touching the shared server.

The server is ``GRACE_TEST_REDIS_URL`` (default: the local one, database 0). Where none answers,
or the client library is missing, the Redis tests skip and say why, except under CI
(``CI=true``), where that is a failure. This module is the only place that decides it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import uuid
from urllib.parse import urlsplit

import pytest

from tests.support.postgres import in_ci, run_sync

REDIS_URL = os.environ.get("GRACE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
_prefixes = itertools.count(1)
_checked: list[str] = []


def unavailable(reason: str) -> None:
    """Skip, or under CI fail, a test that needs Redis."""
    if in_ci():
        pytest.fail(f"Redis is required under CI and {reason}", pytrace=False)
    pytest.skip(f"Redis tests skipped: {reason} (set GRACE_TEST_REDIS_URL)")


def require_redis() -> str:
    """The test server's URL, once it has answered a PING (checked once per run)."""
    if _checked:
        return REDIS_URL
    try:
        import redis.asyncio  # noqa: F401
    except ImportError:
        unavailable("the redis client is not installed (scripts/setup installs it)")

    async def ping() -> None:
        from redis.asyncio import Redis

        client = Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        try:
            await client.ping()
        finally:
            await client.aclose()

    try:
        run_sync(ping)
    except Exception as exc:
        unavailable(f"no Redis server answered at {REDIS_URL}: {exc}")
    _checked.append(REDIS_URL)
    return REDIS_URL


def new_prefix() -> str:
    return f"gtest{os.getpid()}-{next(_prefixes)}-{uuid.uuid4().hex[:6]}"


class Proxy:
    """A TCP proxy on a free loopback port in front of the Redis server: ``cut`` closes the
    listener and every connection through it (Redis, seen from behind it, is down);
    ``restore`` listens again on the same port."""

    def __init__(self, target: str = REDIS_URL) -> None:
        parts = urlsplit(target)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 6379)
        self.path = parts.path
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}{self.path}"

    async def start(self) -> Proxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    restore = start

    async def cut(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if server is not None:
            await server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))
        pipes = [
            asyncio.create_task(self._pipe(reader, up_writer)),
            asyncio.create_task(self._pipe(up_reader, writer)),
        ]
        self._tasks.update(pipes)
        try:
            await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in pipes:
                task.cancel()
                self._tasks.discard(task)
            for w in (writer, up_writer):
                self._writers.discard(w)
                w.transport.abort()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
