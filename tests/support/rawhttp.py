"""HTTP at the byte level for tests of the server's limits: half-sent requests, bodies that never
come, connections from another loopback address (Linux routes all of 127.0.0.0/8 to lo)."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

#: A second client address on the loopback interface, for "someone else" in flood tests.
OTHER_ADDRESS = "127.0.0.2"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def error(self) -> dict[str, Any]:
        """The error envelope's ``error`` object (asserting it is exactly the envelope)."""
        parsed = json.loads(self.body)
        assert set(parsed) == {"error"} and set(parsed["error"]) == {"code", "message"}, parsed
        error: dict[str, Any] = parsed["error"]
        return error


async def connect(
    url: str, local: str = "127.0.0.1"
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    return await asyncio.open_connection(parts.hostname, parts.port, local_addr=(local, 0))


def request_head(method: str, path: str, headers: dict[str, str] | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: grace.test"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def read_answer(reader: asyncio.StreamReader, timeout: float = 5.0) -> Answer:
    """One HTTP response (with a Content-Length body), within ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        head = await reader.readuntil(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers: dict[str, str] = {}
        for line in lines:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
    return Answer(int(status_line.split()[1]), headers, body)


async def closed_by_server(reader: asyncio.StreamReader, timeout: float) -> bool:
    """Whether the server closes the connection within ``timeout`` (data before that is
    read and dropped)."""
    deadline = time.monotonic() + timeout
    try:
        while (left := deadline - time.monotonic()) > 0:
            try:
                chunk = await asyncio.wait_for(reader.read(65536), left)
            except TimeoutError:
                return False
            if not chunk:
                return True
    except ConnectionError:
        return True
    return False


def close(writer: asyncio.StreamWriter) -> None:
    if not writer.is_closing():
        writer.close()
