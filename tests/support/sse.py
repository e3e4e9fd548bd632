"""An SSE client for the tests: reads ``/api/notifications/sse`` event by event."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.support import Running

PATH = "/api/notifications/sse"


@dataclass
class SSEEvent:
    data: dict[str, Any]
    id: str | None = None
    comments: list[str] = field(default_factory=list)


class SSEStream:
    """Reads an SSE response line by line; keeps the comments seen before each event."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.lines = response.aiter_lines()
        self.comments: list[str] = []

    async def next(self, timeout: float = 5.0) -> SSEEvent:
        async with asyncio.timeout(timeout):
            event_id: str | None = None
            data: list[str] = []
            while True:
                line = await anext(self.lines)
                if line == "":
                    if data:
                        return SSEEvent(json.loads("\n".join(data)), event_id, self.comments)
                    continue
                if line.startswith(":"):
                    self.comments.append(line)
                    continue
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "id":
                    event_id = value
                elif name == "data":
                    data.append(value)

    async def comment(self, timeout: float) -> str:
        """The next comment line; fails if an event comes first."""
        async with asyncio.timeout(timeout):
            while True:
                line = await anext(self.lines)
                if line.startswith(":"):
                    return line
                assert line == "", f"expected a comment, got {line!r}"

    async def until_synced(self) -> tuple[SSEEvent, list[SSEEvent], SSEEvent]:
        welcome = await self.next()
        assert welcome.data["type"] == "welcome" and welcome.id is None
        replay = []
        while (event := await self.next()).data["type"] != "synced":
            replay.append(event)
        return welcome, replay, event


@asynccontextmanager
async def sse(
    srv: Running, user: str, headers: dict[str, str] | None = None, **params: Any
) -> AsyncIterator[SSEStream]:
    async with (
        srv.http() as http,
        http.stream(
            "GET", PATH, headers={**srv.auth(user), **(headers or {})}, params=params
        ) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        yield SSEStream(response)
