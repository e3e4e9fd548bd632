"""``GET /api/ready``: 200 while the store answers a real query and the broker (the Redis
backplane, when configured) answers a PING; 503 ``unavailable`` naming the part that is not
ready otherwise, and 200 again once it is back. Redis and PostgreSQL go away behind a TCP proxy
the test cuts, never by touching the shared servers."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from grace_chat.app import Grace
from grace_chat.config import Settings
from tests.support import Running, serve
from tests.support.redis import Proxy


async def ready(srv: Running) -> tuple[int, Any]:
    async with srv.http() as http:
        response = await http.get("/api/ready")
    return response.status_code, response.json()


async def until_status(srv: Running, status: int, timeout: float = 15.0) -> Any:
    """Poll readiness until it answers ``status``; its body."""
    async with asyncio.timeout(timeout):
        while True:
            got, body = await ready(srv)
            if got == status:
                return body
            await asyncio.sleep(0.05)


@pytest.mark.engines
async def test_ready_with_either_engine(settings: Settings) -> None:
    async with serve(settings) as srv:
        assert await ready(srv) == (200, {"status": "ready"})
        async with srv.http() as http:
            health = (await http.get("/api/health")).json()
        assert health["status"] == "ok"


async def test_redis_going_away_makes_the_process_unready_until_it_is_back(
    settings: Settings, redis_url: str, redis_prefix: str
) -> None:
    proxy = await Proxy(redis_url).start()
    try:
        configured = settings.with_(redis_url=proxy.url, redis_prefix=redis_prefix)
        async with serve(configured, Grace(configured, systems=False)) as srv:
            assert await until_status(srv, 200) == {"status": "ready"}
            await proxy.cut()
            body = await until_status(srv, 503)
            assert body["error"]["code"] == "unavailable"
            message = body["error"]["message"]
            assert "broker" in message and "Redis" in message and "store" not in message
            async with srv.http() as http:  # the process itself still serves
                assert (await http.get("/api/health")).status_code == 200
            await proxy.restore()
            assert await until_status(srv, 200) == {"status": "ready"}
    finally:
        await proxy.cut()


async def test_postgres_going_away_makes_the_process_unready_until_it_is_back(
    settings: Settings, postgres_url: str
) -> None:
    parts = urlsplit(postgres_url)
    proxy = await Proxy(f"redis://{parts.hostname}:{parts.port or 5432}").start()
    try:
        user = f"{parts.username}@" if parts.username else ""
        url = urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{proxy.port}"))
        configured = settings.with_(database_url=url)
        async with serve(configured, Grace(configured, systems=False)) as srv:
            assert await ready(srv) == (200, {"status": "ready"})
            await proxy.cut()
            body = await until_status(srv, 503)
            assert body["error"]["code"] == "unavailable"
            assert body["error"]["message"].startswith("not ready: store: ")
            assert "broker" not in body["error"]["message"]
            await proxy.restore()
            assert await until_status(srv, 200) == {"status": "ready"}
    finally:
        await proxy.cut()
