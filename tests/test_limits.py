"""Limits at the HTTP door, on a real server over loopback: identity before any body is read,
body caps, stalled bodies, the header timeout, the header size cap and the cap on connections
per client address."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

import httpx
import pytest

from grace_chat.api.connections import MAX_HEADER_BYTES
from grace_chat.api.limits import SESSION_BODY_BYTES
from grace_chat.config import Settings
from tests.support import Client, serve
from tests.support.learning import learning_settings
from tests.support.rawhttp import (
    OTHER_ADDRESS,
    close,
    closed_by_server,
    connect,
    read_answer,
    request_head,
)

PUBLISH = "/api/notifications/publish"
HUGE = 48 * 1024 * 1024


async def test_a_body_without_a_token_is_refused_before_it_is_read(settings: Settings) -> None:
    async with serve(settings) as srv:
        for path, headers in [
            (PUBLISH, {}),
            ("/api/notifications/read", {"Authorization": "Bearer not-a-token"}),
            ("/api/unified/chat", {"Cookie": "grace_session=forged"}),
            ("/api/health", {}),  # public without a body; a body needs a caller all the same
        ]:
            reader, writer = await connect(srv.url)
            head = {"Content-Type": "application/json", "Content-Length": str(HUGE), **headers}
            writer.write(request_head("POST", path, head))  # ...and not a byte of the body
            answer = await read_answer(reader)
            assert answer.status == 401, (path, answer)
            assert answer.error()["code"] == "unauthenticated"
            assert answer.headers["connection"] == "close"
            assert await closed_by_server(reader, 5), path
            close(writer)

        # A session cookie sent from another site's page is refused the same way.
        reader, writer = await connect(srv.url)
        cookie = f"grace_session={srv.token('ann')}"
        head = {"Cookie": cookie, "Origin": "https://evil.example", "Content-Length": "10"}
        writer.write(request_head("POST", "/api/notifications/read", head))
        answer = await read_answer(reader)
        assert (answer.status, answer.error()["code"]) == (403, "forbidden")
        close(writer)

        # With a token, the same request is read and answered by its route.
        async with srv.http() as http:
            response = await http.post(
                "/api/notifications/read", json={"all": True}, headers=srv.auth("ann")
            )
            assert response.status_code == 200, response.text


async def test_a_declared_length_over_the_cap_is_refused_before_reading(
    settings: Settings,
) -> None:
    async with serve(settings.with_(max_body_bytes=4096)) as srv:
        reader, writer = await connect(srv.url)
        head = {**srv.auth("ann"), "Content-Type": "application/json", "Content-Length": "4097"}
        writer.write(request_head("POST", "/api/notifications/read", head))
        answer = await read_answer(reader)
        assert answer.status == 413
        error = answer.error()
        assert error["code"] == "too_large" and "4096" in error["message"]
        assert await closed_by_server(reader, 5)
        close(writer)

        # POST /api/session needs no token (its body is the token) but has a small cap.
        reader, writer = await connect(srv.url)
        head = {"Content-Type": "application/json", "Content-Length": str(SESSION_BODY_BYTES + 1)}
        writer.write(request_head("POST", "/api/session", head))
        answer = await read_answer(reader)
        assert (answer.status, answer.error()["code"]) == (413, "too_large")
        close(writer)

        async with srv.http() as http:
            signed_in = await http.post("/api/session", json={"token": srv.token("ann")})
            assert signed_in.status_code == 204
            at_the_cap = {"ids": ["n1"], "all": False}
            padded = json.dumps(at_the_cap).ljust(4096).encode()
            response = await http.post(
                "/api/notifications/read",
                content=padded,
                headers={**srv.auth("ann"), "Content-Type": "application/json"},
            )
            assert response.status_code == 200, response.text


async def test_a_chunked_body_is_counted_and_cut_off_at_the_cap(settings: Settings) -> None:
    cap = 64 * 1024
    async with serve(settings.with_(max_body_bytes=cap)) as srv:
        reader, writer = await connect(srv.url)
        head = {**srv.auth("ann"), "Content-Type": "application/json"}
        writer.write(
            request_head("POST", "/api/notifications/read", head | {"Transfer-Encoding": "chunked"})
        )
        chunk = b"%x\r\n%s\r\n" % (8192, b" " * 8192)

        async def stream() -> int:
            sent = 0
            with contextlib.suppress(ConnectionError):
                while sent < 64 * cap:  # without a cap the server would read all of it
                    writer.write(chunk)
                    await writer.drain()
                    sent += 8192
                writer.write(b"0\r\n\r\n")
                await writer.drain()
            return sent

        sender = asyncio.create_task(stream())
        answer = await read_answer(reader, timeout=10)
        assert answer.status == 413, answer
        assert answer.error()["code"] == "too_large"
        assert await closed_by_server(reader, 5)
        sent = await sender
        assert sent < 64 * cap, "the server read the whole body"
        close(writer)


async def test_a_stalled_body_times_out(settings: Settings) -> None:
    async with serve(settings.with_(body_timeout=0.5)) as srv:
        reader, writer = await connect(srv.url)
        head = {**srv.auth("ann"), "Content-Type": "application/json", "Content-Length": "100"}
        writer.write(request_head("POST", "/api/notifications/read", head) + b'{"all": ')
        answer = await read_answer(reader, timeout=5)
        assert answer.status == 408
        assert answer.error()["code"] == "bad_request"
        assert "stalled" in answer.error()["message"]
        assert await closed_by_server(reader, 5)
        close(writer)


async def test_uploads_have_the_learning_cap_and_not_the_body_cap(settings: Settings) -> None:
    limited = learning_settings(settings.with_(max_body_bytes=1024), max_bytes=200_000)
    async with serve(limited) as srv, srv.http() as http:
        document = b"# Notes\n\n" + b"The okapi memo. " * 10_000  # 160 kB: over the body cap
        files = {"files": ("notes.md", document, "text/markdown")}
        accepted = await http.post("/api/learning/documents", files=files, headers=srv.auth("ann"))
        assert accepted.status_code == 202, accepted.text

        # Refused before the body is read: a too large one on its Content-Length, any upload
        # without a token. (The connection is closed with the body unread: a blocking client
        # reads the answer once its write fails, as `grace learn` does; asyncio ones lose it.)
        def upload(name: str, data: bytes, headers: dict[str, str]) -> httpx.Response:
            with httpx.Client(base_url=srv.url, headers=headers) as blocking:
                return blocking.post(
                    "/api/learning/documents", files={"files": (name, data, "text/markdown")}
                )

        refused = await asyncio.to_thread(upload, "big.md", b"x" * 300_000, srv.auth("ann"))
        assert refused.status_code == 413
        assert refused.json()["error"]["code"] == "too_large"
        anonymous = await asyncio.to_thread(upload, "notes.md", document, {})
        assert anonymous.status_code == 401
        assert anonymous.json()["error"]["code"] == "unauthenticated"
    inbox = limited.data_dir / "learning" / "inbox"
    assert not inbox.exists() or not any(p.is_file() for p in inbox.rglob("*"))


async def test_half_sent_requests_and_handshakes_are_timed_out(settings: Settings) -> None:
    async with serve(settings.with_(header_timeout=0.5)) as srv:
        half_sent = [
            b"",  # connected, nothing sent
            b"GET /api/hea",
            request_head("GET", "/api/health")[:-2],  # every header but the blank line
            b"GET /api/notifications/stream HTTP/1.1\r\nHost: grace.test\r\n"
            b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",  # a handshake, unfinished
        ]
        opened = []
        for data in half_sent:
            reader, writer = await connect(srv.url)
            writer.write(data)
            opened.append((reader, writer))
        for (reader, writer), data in zip(opened, half_sent, strict=True):
            assert await closed_by_server(reader, 5), data
            close(writer)

        # Between requests on a kept-alive connection the same deadline applies to the next.
        reader, writer = await connect(srv.url)
        writer.write(request_head("GET", "/api/health"))
        assert (await read_answer(reader)).status == 200
        writer.write(b"GET /api/health HTTP/1.1\r\n")
        assert await closed_by_server(reader, 5)
        close(writer)

        # A complete request on a connection is not cut off however long it then waits.
        async with Client.connect(srv, "ann") as client:
            await client.welcome()
            await asyncio.sleep(1.0)  # twice the header timeout: the open socket must stay
            assert (await client.command({"type": "ping"}))["type"] == "pong"


async def test_headers_over_the_size_cap_are_refused(settings: Settings) -> None:
    async with serve(settings) as srv:
        reader, writer = await connect(srv.url)
        writer.write(b"GET /api/health HTTP/1.1\r\nHost: grace.test\r\nX-Padding: ")
        with contextlib.suppress(ConnectionError):
            for _ in range(4 * MAX_HEADER_BYTES // 4096):
                writer.write(b"a" * 4096)
                await writer.drain()
        answer = await read_answer(reader)
        assert answer.status == 431
        assert answer.error()["code"] == "too_large"
        assert await closed_by_server(reader, 5)
        close(writer)


async def health_over_a_new_connection(url: str) -> bool:
    reader, writer = await connect(url)
    try:
        writer.write(request_head("GET", "/api/health"))
        return (await read_answer(reader, timeout=2)).status == 200
    except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
        return False
    finally:
        close(writer)


async def eventually_served(url: str, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await health_over_a_new_connection(url):
        assert asyncio.get_running_loop().time() < deadline, "never accepted again"
        await asyncio.sleep(0.05)


async def test_connections_over_the_per_address_cap_are_closed_at_once(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    cap = 6
    limited = settings.with_(max_connections_per_address=cap, header_timeout=30.0)
    caplog.set_level(logging.WARNING, logger="grace_chat.api.connections")
    async with serve(limited) as srv:
        held = [await connect(srv.url) for _ in range(cap)]
        for reader, writer in held[:3]:  # the held ones are served
            writer.write(request_head("GET", "/api/health"))
            assert (await read_answer(reader)).status == 200

        over = [await connect(srv.url) for _ in range(5)]
        for reader, _ in over:
            assert await closed_by_server(reader, 2)
        refusals = [r for r in caplog.records if "refusing connections" in r.getMessage()]
        assert len(refusals) == 1, "one log line per episode"

        # Another address is served meanwhile.
        transport = httpx.AsyncHTTPTransport(local_address=OTHER_ADDRESS)
        async with httpx.AsyncClient(base_url=srv.url, transport=transport) as other:
            assert (await other.get("/api/health")).status_code == 200

        for _, writer in held + over:
            close(writer)
        await eventually_served(srv.url)
        assert any("accepting connections" in r.getMessage() for r in caplog.records)


async def test_websockets_count_toward_the_per_address_cap(settings: Settings) -> None:
    async with serve(settings.with_(max_connections_per_address=3)) as srv:
        async with contextlib.AsyncExitStack() as stack:
            for user in ("a", "b", "c"):
                client = await stack.enter_async_context(Client.connect(srv, user))
                await client.welcome()
            reader, writer = await connect(srv.url)
            assert await closed_by_server(reader, 2), "a 4th connection was let in"
            close(writer)
        await eventually_served(srv.url)  # the sockets closed: their places are free again


def test_the_limits_come_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "GRACE_MAX_BODY_BYTES": "2048",
            "GRACE_HEADER_TIMEOUT": "2.5",
            "GRACE_BODY_TIMEOUT": "7",
            "GRACE_MAX_CONNECTIONS_PER_ADDRESS": "0",
        }
    )
    assert settings.max_body_bytes == 2048
    assert settings.header_timeout == 2.5
    assert settings.body_timeout == 7.0
    assert settings.max_connections_per_address == 0
    defaults = Settings()
    assert defaults.max_body_bytes == 1024 * 1024
    assert defaults.header_timeout == 10.0
    assert defaults.max_connections_per_address == 256
