"""WebSocket ``/api/notifications/stream`` as an ASGI route: protocol v1
(see ``grace_chat.protocol``).

``grace serve`` answers this path without ASGI (``grace_chat.api.ws_native``); this route serves it
under any other ASGI server, with the same hello, commands and greeting
(``grace_chat.api.session``), one task reading and one draining the outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from grace_chat.api.identity import Gate
from grace_chat.api.session import (
    TOKEN_EXPIRED,
    admit,
    greet,
    handle_command,
    hello_token,
    parse_since,
    too_many_connections,
)
from grace_chat.auth import Identity, origin_allowed
from grace_chat.commands import CommandContext
from grace_chat.errors import GraceError, Unauthenticated
from grace_chat.hub.hub import TokenBucket
from grace_chat.hub.outbox import pack
from grace_chat.protocol import CloseCode, close_reason, dumps, encode, error_frame

if TYPE_CHECKING:
    from grace_chat.app import Grace

log = logging.getLogger("grace.ws")

#: How long a close the session starts from outside its tasks (a slow consumer, an expired
#: token) may wait for the client to read before the session stops waiting (its queue is already
#: dropped; the socket is then left to the server to shut).
CUT_OFF_SECONDS = 10.0


def _payload(message: MutableMapping[str, Any]) -> str | bytes | None:
    text = message.get("text")
    return text if text is not None else message.get("bytes")


class StreamSession:
    def __init__(self, grace: Grace, websocket: WebSocket, gate: Gate) -> None:
        self.grace = grace
        self.gate = gate
        self.ws = websocket
        s = grace.settings
        self.outbox = grace.hub.outbox(s.queue_max_frames, self._overflowed)
        self.bucket = TokenBucket(s.command_rate, s.command_burst)
        self.writer: asyncio.Task[None] | None = None
        self.serving: asyncio.Task[None] | None = None
        self.closing: asyncio.Task[None] | None = None
        self.expiry: asyncio.TimerHandle | None = None

    async def run(self) -> None:
        ws, settings = self.ws, self.grace.settings
        await ws.accept()
        if not origin_allowed(
            ws.headers.get("origin"), ws.headers.get("host"), settings.allowed_origins
        ):
            await self._close(CloseCode.FORBIDDEN, "origin not allowed")
            return
        try:
            identity, since = await self._authenticate()
        except GraceError as exc:
            with contextlib.suppress(Exception):
                await ws.send_text(encode(error_frame(exc)))
                await self._close(CloseCode.UNAUTHENTICATED, exc.message)
            return
        except WebSocketDisconnect:
            return
        user_bucket = admit(self.grace, identity, self.outbox)
        if user_bucket is None:
            with contextlib.suppress(Exception):
                error = too_many_connections(settings)
                await ws.send_text(encode(error_frame(error)))
                await self._close(CloseCode.TOO_MANY_CONNECTIONS, error.message)
            return
        ctx = CommandContext(identity=identity, channel="ws", outbox=self.outbox)
        # Greeting and reading run in their own task, which a cut-off (slow consumer, expired
        # token) cancels: a stalled client may never read the close frame nor send anything again.
        loop = asyncio.get_running_loop()
        self.serving = loop.create_task(self._serve(ctx, user_bucket, since))
        left = identity.seconds_left()
        if left is not None:
            self.expiry = loop.call_later(left, self._token_expired)
        try:
            await asyncio.wait({self.serving})
            if not self.serving.cancelled():
                self.serving.result()
        except (WebSocketDisconnect, RuntimeError, OSError):
            pass  # the client went away mid-send
        finally:
            if self.expiry is not None:
                self.expiry.cancel()
            self.serving.cancel()
            self.grace.hub.detach(identity.user_id, self.outbox)
            self.outbox.close()
            if self.writer is not None:
                with contextlib.suppress(BaseException):
                    await self.writer
            if self.closing is not None:
                with contextlib.suppress(BaseException):
                    await self.closing

    async def _close(self, code: CloseCode, reason: str) -> None:
        """Every close this session starts: ``reason`` cut to what a close frame holds."""
        await self.ws.close(code, close_reason(reason))

    async def _serve(
        self, ctx: CommandContext, user_bucket: TokenBucket, since: int | None
    ) -> None:
        await self._greet(ctx, since)
        self.writer = asyncio.get_running_loop().create_task(self._write())
        await self._read(ctx, user_bucket)

    async def _greet(self, ctx: CommandContext, since: int | None) -> None:
        # A method of its own so that no frame outlives it in a local of the long-lived caller
        # (orjson's output buffers take 4 KiB each).
        async for batch in greet(self.grace, ctx.identity, self.outbox, since):
            for message in pack([frame for _, frame in batch]):
                await self.ws.send_text(message.decode())

    async def _authenticate(self) -> tuple[Identity, int | None]:
        ws = self.ws
        identity = await self.gate.identify(ws)
        if identity is not None:
            return identity, parse_since(ws.query_params.get("since"))
        try:
            async with asyncio.timeout(self.grace.settings.hello_timeout):
                message = await ws.receive()
        except TimeoutError:
            raise Unauthenticated("no hello frame received in time") from None
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000))
        token, since = hello_token(self.grace, _payload(message) or "")
        return await self.gate.verify_token(token), since

    async def _read(self, ctx: CommandContext, user_bucket: TokenBucket) -> None:
        ws = self.ws
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            raw = _payload(message)
            if raw is None:
                continue
            reply = await handle_command(self.grace, ctx, self.bucket, user_bucket, raw)
            self.outbox.push(0, dumps(reply))

    async def _write(self) -> None:
        ws, outbox = self.ws, self.outbox
        try:
            while True:
                batch = await outbox.next_batch()
                if not batch:
                    break
                await ws.send_text(b"\n".join(frame for _, frame in batch).decode())
        except (WebSocketDisconnect, RuntimeError, OSError):
            return
        await self._going_away()

    async def _going_away(self) -> None:
        ws = self.ws
        if not self.outbox.overflowed and ws.application_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await self._close(CloseCode.GOING_AWAY, "server going away")

    def _overflowed(self) -> None:
        """The client let its queue fill: cut it off; it resumes from its last seq."""
        log.info("closing a slow consumer (queue of %d frames full)", self.outbox.capacity)
        self._cut_off(CloseCode.SLOW_CONSUMER, "slow consumer: resume from your last seq")

    def _token_expired(self) -> None:
        """The token the stream was opened with expired: it may neither receive nor command."""
        self.expiry = None
        error = Unauthenticated(TOKEN_EXPIRED)
        self._cut_off(CloseCode.UNAUTHENTICATED, error.message, error)

    def _cut_off(self, code: CloseCode, reason: str, error: GraceError | None = None) -> None:
        """End the session from outside its tasks: stop reading and writing at once, then send
        ``error`` (if any) and the close frame, waiting ``CUT_OFF_SECONDS`` at most."""
        if self.closing is not None:
            return
        for task in (self.writer, self.serving):
            if task is not None:
                task.cancel()
        self.closing = asyncio.get_running_loop().create_task(self._close_cut(code, reason, error))

    async def _close_cut(self, code: CloseCode, reason: str, error: GraceError | None) -> None:
        try:
            async with asyncio.timeout(CUT_OFF_SECONDS):
                if error is not None:
                    await self.ws.send_text(encode(error_frame(error)))
                await self._close(code, reason)
        except Exception:
            pass  # the client is gone, or still not reading


async def notification_stream(grace: Grace, websocket: WebSocket, gate: Gate) -> None:
    await StreamSession(grace, websocket, gate).run()
