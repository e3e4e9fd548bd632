"""A store that cannot write — a full disk, a read-only or a vanished data directory — answers a
clear ``unavailable`` (503, the error envelope, ``Retry-After``), keeps the connection, logs the
episode once, shows in ``GET /api/ready``, loses nothing it acknowledged, and works again once
the storage does.

The data directory lives on a small tmpfs mounted for the test (so these tests need root and a
kernel that lets the test mount; elsewhere they are skipped, saying why).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest

from grace_chat.app import Grace
from grace_chat.config import Settings
from tests.support import Client, Running, serve

ADMIN_PUBLISH = "/api/notifications/publish"


def _mount(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *args], capture_output=True, text=True, check=False)


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs, mounted for this test only."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root")
    where = tmp_path / "small"
    where.mkdir()
    mounted = _mount("-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(where))
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-R", "-l", str(where)], check=False)


def fill(where: Path) -> Path:
    """Write a file in ``where`` until the file system has no byte left; returns it."""
    filler = where / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 20, 1 << 16, 1 << 12, 1 << 9, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)
    assert os.statvfs(where).f_bavail == 0
    return filler


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Everything logged, uvicorn's loggers (which do not propagate) included."""
    uvicorn = logging.getLogger("uvicorn")
    uvicorn.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.INFO):
            yield caplog
    finally:
        uvicorn.removeHandler(caplog.handler)


def count(caplog: pytest.LogCaptureFixture, text: str) -> int:
    return sum(1 for r in caplog.records if text in r.getMessage())


def assert_no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    escaped = [
        f"{r.name}: {r.getMessage()}"
        for r in caplog.records
        if r.exc_info or "Exception in ASGI application" in r.getMessage()
    ]
    assert not escaped, escaped


@contextlib.asynccontextmanager
async def grace_on(data: Path) -> AsyncIterator[Running]:
    settings = Settings(data_dir=data, sqlite_synchronous="NORMAL")
    async with serve(settings, Grace(settings, systems={"learning"})) as srv:
        yield srv


def assert_unavailable(status: int, headers: dict[str, str], body: bytes, why: str) -> str:
    assert status == 503, body
    assert headers.get("retry-after") == "30", headers
    error = orjson.loads(body)
    assert set(error) == {"error"} and error["error"]["code"] == "unavailable", error
    message: str = error["error"]["message"]
    assert why in message and "/" not in message, message  # says why, shows no path
    return message


class KeepAlive:
    """One HTTP/1.1 connection, kept open across requests (as browsers and proxies do)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, url: str) -> AsyncIterator[KeepAlive]:
        parts = urlsplit(url)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        try:
            yield cls(reader, writer)
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: Any = None
    ) -> tuple[int, dict[str, str], bytes]:
        payload = b"" if body is None else orjson.dumps(body)
        lines = [f"{method} {path} HTTP/1.1", "Host: grace", f"Content-Length: {len(payload)}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        if body is not None:
            lines.append("Content-Type: application/json")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + payload)
        await self.writer.drain()
        async with asyncio.timeout(10):
            head = await self.reader.readuntil(b"\r\n\r\n")
            status_line, *header_lines = head.decode("latin-1").split("\r\n")
            got = {}
            for line in header_lines:
                if line:
                    name, _, value = line.partition(":")
                    got[name.strip().lower()] = value.strip()
            content = await self.reader.readexactly(int(got.get("content-length", "0")))
        assert got.get("connection", "").lower() != "close", got
        return int(status_line.split()[1]), got, content


async def ready(srv: Running) -> tuple[int, Any]:
    async with srv.http() as http:
        response = await http.get("/api/ready")
    return response.status_code, response.json()


async def until_ready(srv: Running, timeout: float = 10.0) -> None:
    """Poll readiness until it answers 200, failing after ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        while (await ready(srv))[0] != 200:  # noqa: ASYNC110 - polling a server, not a flag
            await asyncio.sleep(0.05)


async def test_a_full_disk_is_unavailable_logged_once_and_recovers_without_loss(
    small_fs: Path, logs: pytest.LogCaptureFixture
) -> None:
    async with grace_on(small_fs / "data") as srv:
        admin = srv.auth("root", admin=True)
        assert await ready(srv) == (200, {"status": "ready"})
        acknowledged: list[int] = []
        async with KeepAlive.open(srv.url) as conn:
            for i in range(5):
                body = {"user_id": "ann", "type": "test", "message": f"before {i}"}
                status, _, created = await conn.request("POST", ADMIN_PUBLISH, admin, body)
                assert status == 201
                acknowledged.append(orjson.loads(created)["seq"])

            filler = fill(small_fs)
            # Publish until the store runs out of room (the log may still have some slack).
            status = 201
            for i in range(2000):
                body = {"user_id": "ann", "type": "test", "message": f"full {i} " + "x" * 2000}
                status, headers, content = await conn.request("POST", ADMIN_PUBLISH, admin, body)
                if status != 201:
                    break
                acknowledged.append(orjson.loads(content)["seq"])
            assert_unavailable(status, headers, content, "the disk is full")
            # the same connection carries on: more refusals, then readiness and liveness
            for _ in range(3):
                body = {"user_id": "ann", "type": "test", "message": "still full " + "x" * 2000}
                status, headers, content = await conn.request("POST", ADMIN_PUBLISH, admin, body)
                assert_unavailable(status, headers, content, "the disk is full")
            status, headers, content = await conn.request("GET", "/api/ready", {})
            assert_unavailable(status, headers, content, "the disk is full")
            status, _, _ = await conn.request("GET", "/api/health", {})
            assert status == 200

        async with Client.connect(srv, "ann") as ann:
            await ann.welcome()
            reply = await ann.command({"type": "mark_read", "all": True})
            assert (reply["type"], reply["code"]) == ("error", "unavailable"), reply
            assert "the disk is full" in reply["message"]
            assert (await ann.command({"type": "ping"}))["type"] == "pong"

        async with srv.http() as http:
            files = {"files": ("guide.md", b"# Guide\n\nCanary first." * 2000, "text/markdown")}
            response = await http.post("/api/learning/documents", files=files, headers=admin)
            assert_unavailable(
                response.status_code, dict(response.headers), response.content, "disk is full"
            )

        assert count(logs, "cannot write: the disk is full") == 1  # one episode, one line
        assert_no_tracebacks(logs)

        os.remove(filler)
        await until_ready(srv)
        async with srv.http() as http:
            body = {"user_id": "ann", "type": "test", "message": "after"}
            response = await http.post(ADMIN_PUBLISH, json=body, headers=admin)
            assert response.status_code == 201, response.text
            assert response.json()["seq"] == acknowledged[-1] + 1  # no seq lost or skipped
            acknowledged.append(response.json()["seq"])
            page = await http.get(
                "/api/notifications",
                params={"since": 0, "limit": 1000},
                headers=srv.auth("ann"),
            )
        assert [n["seq"] for n in page.json()["items"]] == acknowledged
        assert count(logs, "can write again") == 1
        assert count(logs, "cannot write") == 1
        assert_no_tracebacks(logs)


async def test_a_read_only_or_vanished_data_directory_is_unavailable(
    small_fs: Path, logs: pytest.LogCaptureFixture
) -> None:
    data = small_fs / "data"
    async with grace_on(data) as srv, srv.http() as http:
        admin = srv.auth("root", admin=True)
        body = {"user_id": "ann", "type": "test", "message": "kept"}
        assert (await http.post(ADMIN_PUBLISH, json=body, headers=admin)).status_code == 201

        # A read-only file system is mounted over the data directory while Grace runs.
        mounted = await asyncio.to_thread(
            _mount, "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(data)
        )
        assert mounted.returncode == 0, mounted.stderr
        try:
            response = await http.post(ADMIN_PUBLISH, json=body, headers=admin)
            assert_unavailable(
                response.status_code, dict(response.headers), response.content, "is gone"
            )
            files = {"files": ("guide.md", b"# Guide", "text/markdown")}
            response = await http.post("/api/learning/documents", files=files, headers=admin)
            assert_unavailable(
                response.status_code, dict(response.headers), response.content, "read-only"
            )
            status, error = await ready(srv)
            assert status == 503 and "is gone" in error["error"]["message"]
            # a read answers from the file still open, or (a reader that must open it anew)
            # unavailable too: never a failure of the server
            page = await http.get("/api/notifications", headers=srv.auth("ann"))
            if page.status_code == 200:
                assert [n["message"] for n in page.json()["items"]] == ["kept"]
            else:
                assert_unavailable(page.status_code, dict(page.headers), page.content, "is gone")
        finally:
            await asyncio.to_thread(subprocess.run, ["umount", str(data)], check=True)
        await until_ready(srv)
        response = await http.post(ADMIN_PUBLISH, json=body, headers=admin)
        assert response.status_code == 201 and response.json()["seq"] == 2

        # The data directory is removed: nothing more may be acknowledged into a deleted file.
        await asyncio.to_thread(shutil.rmtree, data)
        for _ in range(3):
            response = await http.post(ADMIN_PUBLISH, json=body, headers=admin)
            assert_unavailable(
                response.status_code, dict(response.headers), response.content, "is gone"
            )
        status, error = await ready(srv)
        assert status == 503 and "is gone" in error["error"]["message"]
        assert (await http.get("/api/health")).status_code == 200
    episodes = [r.getMessage() for r in logs.records if "cannot write" in r.getMessage()]
    assert len(episodes) == 2, episodes  # the overlay, then the removal
    assert_no_tracebacks(logs)
