"""The command channel: one WebSocket on which the client sends protocol commands and matches
each reply to its command by ``id``/``ref``.

Guarantees: a call either returns the frame that answers it, or raises the typed error the
server answered with (``NotFound``, ``Conflict``...), ``ConnectionLost`` when the connection
closed before the answer (the command may or may not have been carried out: it is never sent
again by itself), or ``TimeoutError``. Frames that answer nothing (notifications, ``read`` and
``preferences`` pushed from the user's other connections) are dropped: the notification stream
is where they are read. The connection opens on the first call and again on the first call
after it closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from grace_chat.client.transport import (
    Endpoint,
    Frame,
    closed_error,
    open_websocket,
    split_frames,
)
from grace_chat.errors import ConnectionLost, GraceError, error_from


class CommandChannel:
    def __init__(self, endpoint: Endpoint, token: str, timeout: float) -> None:
        self.endpoint = endpoint
        self.token = token
        self.timeout = timeout
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pending: dict[int, asyncio.Future[Frame]] = {}
        self._ids = itertools.count(1)
        self._lock = asyncio.Lock()
        #: The ``welcome`` frame of the current connection.
        self.welcome: Frame | None = None

    async def call(self, command: dict[str, Any]) -> Frame:
        ws = await self._connection()
        ref = next(self._ids)
        future: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self._pending[ref] = future
        try:
            try:
                await ws.send(orjson.dumps({**command, "id": ref}).decode())
            except ConnectionClosed:
                raise ConnectionLost("the connection closed before the command was sent") from None
            async with asyncio.timeout(self.timeout):
                frame = await future
        finally:
            self._pending.pop(ref, None)
        if frame.get("type") == "error":
            raise error_from(frame.get("code"), frame.get("message"))
        return frame

    async def close(self) -> None:
        ws, reader = self._ws, self._reader
        self._ws = self._reader = None
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(BaseException):
                await reader
        self._fail(ConnectionLost("the client was closed"))

    async def _connection(self) -> ClientConnection:
        async with self._lock:
            if self._ws is not None and self._reader is not None and not self._reader.done():
                return self._ws
            ws = await self._open()
            self._ws = ws
            self._reader = asyncio.get_running_loop().create_task(self._read(ws))
            return ws

    async def _open(self) -> ClientConnection:
        ws = await open_websocket(self.endpoint, self.timeout)
        try:
            await ws.send(orjson.dumps({"type": "hello", "token": self.token}).decode())
            welcome: Frame | None = None
            async with asyncio.timeout(self.timeout):
                while welcome is None:
                    for frame in split_frames(await ws.recv()):
                        if frame.get("type") == "error":
                            raise error_from(frame.get("code"), frame.get("message"))
                        if frame.get("type") == "welcome":
                            welcome = frame
            self.welcome = welcome
        except ConnectionClosed as exc:
            rcvd = exc.rcvd
            raise closed_error(rcvd.code if rcvd else None, rcvd.reason if rcvd else "") from None
        except BaseException:
            with contextlib.suppress(Exception):
                await ws.close()
            raise
        return ws

    async def _read(self, ws: ClientConnection) -> None:
        failure: GraceError | Exception = ConnectionLost("the connection closed before the answer")
        try:
            async for message in ws:
                for frame in split_frames(message):
                    ref = frame.get("ref")
                    if frame.get("type") == "error" and ref is None:
                        # said to the connection as a whole (an expired token): it closes next
                        failure = error_from(frame.get("code"), frame.get("message"))
                        continue
                    future = self._pending.get(ref) if isinstance(ref, int) else None
                    if future is not None and not future.done():
                        future.set_result(frame)
        except (ConnectionClosed, OSError, orjson.JSONDecodeError):
            pass
        finally:
            self._fail(failure)

    def _fail(self, error: Exception) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(error)
