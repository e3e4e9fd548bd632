"""The notification stream served straight on Grace's WebSocket protocol, without ASGI.

Through ASGI, every connection keeps a task and its chain of coroutine frames (app, middleware,
router, endpoint, reader, writer) alive for as long as it is open. Here the protocol's callbacks
drive a ``NativeStream``: it owns no task while idle; a task runs only while it greets (reads the
log) or works through the commands the client sent. Protocol v1 is the same as on the ASGI route
(``grace_chat.api.ws``): the hello frame, the commands and the greeting are the shared functions of
``grace_chat.api.session``.

States: ``AUTH`` (handshake done, waiting for credentials) → ``GREETING`` (welcome, replay,
synced; commands wait) → ``LIVE`` → ``CLOSED``. The stream's one timer waits for the hello, then
for its token's expiry, when the stream is closed with 4401. Every close the server starts goes
through ``close`` (a close frame, then the connection is dropped after ``CLOSE_TIMEOUT`` if the
client never answers).
"""

from __future__ import annotations

import asyncio
import logging
from enum import Enum
from typing import TYPE_CHECKING, Protocol

from starlette.requests import HTTPConnection

from grace_chat.api.identity import Gate, websocket_connection
from grace_chat.api.session import (
    TOKEN_EXPIRED,
    admit,
    authenticate_hello,
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
from grace_chat.hub.outbox import FrameSink, pack
from grace_chat.protocol import CloseCode, dumps, error_frame

if TYPE_CHECKING:
    from websockets.http11 import Request

    from grace_chat.app import Grace

log = logging.getLogger("grace.ws")

#: Commands queued before the connection stops reading from its socket until they are served.
MAX_PENDING_COMMANDS = 32


class Connection(Protocol):
    """What a stream needs of the WebSocket connection under it (``GraceWebSocketProtocol``)."""

    def start_close(self, code: int, reason: str) -> None:
        """Send a close frame (once), then drop the transport if the client never answers."""
        ...

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...


class StreamState(Enum):
    AUTH = "auth"
    GREETING = "greeting"
    LIVE = "live"
    CLOSED = "closed"


_NEXT = {
    StreamState.AUTH: {StreamState.GREETING, StreamState.CLOSED},
    StreamState.GREETING: {StreamState.LIVE, StreamState.CLOSED},
    StreamState.LIVE: {StreamState.CLOSED},
    StreamState.CLOSED: set(),
}


class NativeStream:
    __slots__ = (
        "bucket",
        "ctx",
        "gate",
        "grace",
        "outbox",
        "pending",
        "proto",
        "read_paused",
        "sink",
        "state",
        "task",
        "timer",
        "user_bucket",
    )

    def __init__(self, grace: Grace, gate: Gate, proto: Connection, sink: FrameSink) -> None:
        s = grace.settings
        self.grace = grace
        self.gate = gate
        self.proto = proto
        self.sink = sink
        self.outbox = grace.hub.outbox(s.queue_max_frames, self._overflowed)
        #: The connection's command budget, made with its first command (a bucket starts full).
        self.bucket: TokenBucket | None = None
        self.user_bucket: TokenBucket | None = None
        self.ctx: CommandContext | None = None
        #: Messages waiting their turn (a list: an idle connection holds no deque block).
        self.pending: list[str | bytes] = []
        self.read_paused = False
        self.state = StreamState.AUTH
        self.task: asyncio.Task[None] | None = None
        self.timer: asyncio.TimerHandle | None = None

    def _move(self, to: StreamState) -> None:
        if to not in _NEXT[self.state]:
            raise RuntimeError(f"stream cannot go from {self.state.value} to {to.value}")
        self.state = to

    # -- from the protocol --------------------------------------------------------------------

    def opened(self, request: Request) -> None:
        """The handshake is done: check the origin, then authenticate from the request or wait
        for a hello frame."""
        grace, headers = self.grace, request.headers
        if not origin_allowed(
            headers.get("origin"), headers.get("host"), grace.settings.allowed_origins
        ):
            self.close(CloseCode.FORBIDDEN, "origin not allowed")
            return
        path, _, query = request.path.partition("?")
        conn = websocket_connection(path, query.encode(), request.headers.raw_items())
        if self.gate.host is not None:  # the host's identity may need to wait (a JWKS fetch)
            self.task = asyncio.get_running_loop().create_task(self._identify(conn))
            return
        try:
            identity = self.gate.identify_now(conn)
            if identity is not None:
                self._start(identity, parse_since(conn.query_params.get("since")))
                return
        except GraceError as exc:
            self._refuse(exc)
            return
        self._wait_for_hello()

    def _wait_for_hello(self) -> None:
        loop = asyncio.get_running_loop()
        self.timer = loop.call_later(self.grace.settings.hello_timeout, self._hello_timed_out)

    async def _identify(self, conn: HTTPConnection) -> None:
        self.task = None
        try:
            identity = await self.gate.identify(conn)
            if identity is None:
                self._wait_for_hello()
                if self.pending:  # the hello came while the host was asked
                    self.received(self.pending.pop(0))
                return
            since = parse_since(conn.query_params.get("since"))
        except GraceError as exc:
            self._refuse(exc)
            return
        if self.state is StreamState.AUTH:
            self._start(identity, since)

    async def _hello(self, data: str | bytes) -> None:
        self.task = None
        try:
            token, since = hello_token(self.grace, data)
            identity = await self.gate.verify_token(token)
        except GraceError as exc:
            self._refuse(exc)
            return
        if self.state is StreamState.AUTH:
            self._start(identity, since)

    def received(self, data: str | bytes) -> None:
        """One complete message from the client."""
        if self.state is StreamState.AUTH:
            if self.task is not None:  # still identifying: the frame waits its turn
                self.pending.append(data)
                return
            if self.timer is not None:
                self.timer.cancel()
                self.timer = None
            if self.gate.host is not None:
                self.task = asyncio.get_running_loop().create_task(self._hello(data))
                return
            try:
                identity, since = authenticate_hello(self.grace, data)
            except GraceError as exc:
                self._refuse(exc)
                return
            self._start(identity, since)
            return
        if self.state is StreamState.CLOSED:
            return
        self.pending.append(data)
        if len(self.pending) >= MAX_PENDING_COMMANDS and not self.read_paused:
            self.read_paused = True
            self.proto.pause_reading()
        if self.state is StreamState.LIVE and self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._serve_commands())

    def writable(self) -> None:
        """The socket's buffer drained below its low-water mark."""
        self.outbox.unblock()

    def lost(self) -> None:
        """The connection is gone (closed by either side, or broken)."""
        if self.state is StreamState.CLOSED:
            return
        self._move(StreamState.CLOSED)
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.ctx is not None:
            self.grace.hub.detach(self.ctx.identity.user_id, self.outbox)
        self.outbox.close()
        self.pending.clear()
        if self.task is not None:
            self.task.cancel()
            self.task = None

    # -- closing ------------------------------------------------------------------------------

    def close(self, code: int, reason: str) -> None:
        """Start the closing handshake (idempotent)."""
        self.proto.start_close(code, reason)

    def _refuse(self, exc: GraceError, code: CloseCode = CloseCode.UNAUTHENTICATED) -> None:
        self.sink.write([dumps(error_frame(exc))])
        self.close(code, exc.message)

    def _token_expired(self) -> None:
        """The token the stream was opened with expired: it may neither receive nor command."""
        self.timer = None
        if self.state in (StreamState.GREETING, StreamState.LIVE):
            self.pending.clear()
            self._refuse(Unauthenticated(TOKEN_EXPIRED))

    def _hello_timed_out(self) -> None:
        self.timer = None
        if self.state is StreamState.AUTH:
            self._refuse(Unauthenticated("no hello frame received in time"))

    def _overflowed(self) -> None:
        """The client let its queue fill: cut it off; it resumes from its last seq."""
        log.info("closing a slow consumer (queue of %d frames full)", self.outbox.capacity)
        self.close(CloseCode.SLOW_CONSUMER, "slow consumer: resume from your last seq")

    def _outbox_closed(self) -> None:
        if not self.outbox.overflowed and self.state is not StreamState.CLOSED:
            self.close(CloseCode.GOING_AWAY, "server going away")

    # -- greeting and commands ----------------------------------------------------------------

    def _start(self, identity: Identity, since: int | None) -> None:
        self.user_bucket = admit(self.grace, identity, self.outbox)
        if self.user_bucket is None:
            self._refuse(too_many_connections(self.grace.settings), CloseCode.TOO_MANY_CONNECTIONS)
            return
        self.ctx = CommandContext(identity=identity, channel="ws", outbox=self.outbox)
        self._move(StreamState.GREETING)
        loop = asyncio.get_running_loop()
        left = identity.seconds_left()
        if left is not None:
            self.timer = loop.call_later(left, self._token_expired)
        self.task = loop.create_task(self._greet(identity, since))

    async def _greet(self, identity: Identity, since: int | None) -> None:
        try:
            async for batch in greet(self.grace, identity, self.outbox, since):
                if not self.sink.write(pack([frame for _, frame in batch])):
                    await self.sink.drained()
        except Exception:
            log.exception("greeting %s failed", identity.user_id)
            self.close(CloseCode.INTERNAL_ERROR, "internal error")
            return
        finally:
            self.task = None
        if self.state is not StreamState.GREETING:
            return
        self._move(StreamState.LIVE)
        self.outbox.attach_sink(self.sink, on_close=self._outbox_closed)
        if self.pending:
            self.task = asyncio.get_running_loop().create_task(self._serve_commands())

    async def _serve_commands(self) -> None:
        assert self.ctx is not None and self.user_bucket is not None
        if self.bucket is None:
            s = self.grace.settings
            self.bucket = TokenBucket(s.command_rate, s.command_burst)
        try:
            while self.pending and self.state is StreamState.LIVE:
                raw = self.pending.pop(0)
                if self.read_paused and len(self.pending) < MAX_PENDING_COMMANDS // 2:
                    self.read_paused = False
                    self.proto.resume_reading()
                reply = await handle_command(
                    self.grace, self.ctx, self.bucket, self.user_bucket, raw
                )
                self.outbox.push(0, dumps(reply))
        finally:
            self.task = None
