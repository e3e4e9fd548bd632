"""Grace's WebSocket server protocol: uvicorn's sans-I/O one, serving the stream without ASGI.

A protocol class bound to a ``Grace`` (``bound_to``) answers ``STREAM_PATH`` itself, through
``grace_chat.api.ws_native.NativeStream``: no ASGI task, no Starlette objects, no receive queue per
connection, so an idle connection costs a fraction of the memory; every other path goes to the
ASGI app as usual. Delivery goes through a ``FrameSink``: the hub flushes, at the end of each turn
of the event loop, everything queued for a connection at once; the sink frames the messages with
the connection's own ``websockets`` protocol object (so its state stays right) and hands them to
the transport in one ``write``, where ASGI would cost an ``await send(...)`` through Starlette and
uvicorn and a socket write per message. Under any other ASGI server, the ASGI route
(``grace_chat.api.ws``) serves the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import unquote

from uvicorn.config import Config
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState
from websockets.protocol import Protocol
from websockets.server import ServerProtocol
from websockets.streams import StreamReader

from grace_chat.api.identity import Gate
from grace_chat.api.ws_native import NativeStream
from grace_chat.protocol import STREAM_PATH, close_reason

if TYPE_CHECKING:
    from websockets.http11 import Request

    from grace_chat.app import Grace


class _NoQueue:
    """Stands in for the ASGI receive queue of a connection that has no ASGI app."""

    __slots__ = ()

    def put_nowait(self, message: object) -> None:
        return None


_NO_QUEUE = _NoQueue()


class _Writable:
    """The socket's flow-control flag, as ``asyncio.Event`` (``is_set``, ``set``, ``clear``,
    ``wait``), holding no queue of waiters while nobody waits: one per connection, and almost
    always set."""

    __slots__ = ("_set", "_waiters")

    def __init__(self) -> None:
        self._set = True
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        if self._set:
            return
        self._set = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._set = False

    async def wait(self) -> bool:
        if self._set:
            return True
        waiter = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        try:
            await waiter
            return True
        finally:
            if self._waiters is not None and waiter in self._waiters:
                self._waiters.remove(waiter)


def _forget_handshake(conn: ServerProtocol) -> None:
    """Let the opening handshake's request go once the connection is open.

    ``websockets``' server parser is a generator that parses the request, then goes on parsing
    frames from inside the same frame, so the request and its headers stay alive as long as the
    connection does. When it waits at a frame boundary with nothing buffered (always, right after
    the handshake: the client has not had the 101 yet), a fresh frame parser takes its place.
    """
    waiting: Any = getattr(getattr(conn.parser, "gi_yieldfrom", None), "gi_yieldfrom", None)
    if waiting is None or waiting.gi_code is not StreamReader.at_eof.__code__ or conn.reader.buffer:
        return
    parser = Protocol.parse(conn)
    next(parser)
    conn.parser = parser


#: Seconds the client has to answer a close frame the server sent; then its connection is
#: dropped, with whatever is still buffered for it (a client that stopped reading never will).
CLOSE_TIMEOUT = 10.0


class _Sink:
    __slots__ = ("_proto",)

    def __init__(self, proto: GraceWebSocketProtocol) -> None:
        self._proto = proto

    def write(self, messages: Sequence[bytes]) -> bool:
        proto = self._proto
        if proto.close_sent or proto.disconnected or proto.transport.is_closing():
            return True  # the connection is going; the client resumes from its seq
        conn = proto.conn
        for message in messages:
            conn.send_text(message)
        proto.transport.write(b"".join(conn.data_to_send()))
        return proto.writable.is_set()

    async def drained(self) -> None:
        await self._proto.writable.wait()


class GraceWebSocketProtocol(WebSocketsSansIOProtocol):
    """``uvicorn.Config(ws=GraceWebSocketProtocol.bound_to(grace))``."""

    grace: ClassVar[Grace | None] = None
    gate: ClassVar[Gate | None] = None

    # The attributes uvicorn's protocol sets, as slots: with more of them than an instance
    # dictionary shares its keys for (30), each connection would carry a dictionary of its own
    # (about 1.5 KiB). Any attribute not named here still goes to the instance dictionary.
    __slots__ = (
        *("app", "app_state", "asgi_version", "client", "close_sent", "close_timeout"),
        *("close_timer", "config", "conn", "connections", "curr_msg_data_type"),
        *("default_headers", "disconnected", "frames", "handshake_complete"),
        *("handshake_initiated", "initial_response", "last_ping_rtt", "logger", "loop"),
        *("pending_ping_payload", "ping_interval", "ping_sent_at", "ping_timeout", "ping_timer"),
        *("pong_timer", "queue", "read_paused", "request", "root_path", "scheme", "scope"),
        *("server", "stream", "tasks", "transport", "writable"),
    )

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.stream: NativeStream | None = None
        super().__init__(config, server_state, app_state, _loop)
        self.writable = _Writable()  # type: ignore[assignment]

    @classmethod
    def bound_to(cls, grace: Grace, gate: Gate | None = None) -> type[GraceWebSocketProtocol]:
        """This protocol, serving ``STREAM_PATH`` natively for ``grace``, identifying through
        ``gate`` (default: Grace's own credentials)."""
        return type(cls.__name__, (cls,), {"grace": grace, "gate": gate or Gate(grace.auth)})

    def handle_connect(self, event: Request) -> None:
        grace = self.grace
        if grace is None or unquote(event.path.partition("?")[0]) != STREAM_PATH:
            super().handle_connect(event)
            return
        response = self.conn.accept(event)
        self.handshake_initiated = True
        self.handshake_complete = True
        self.conn.send_response(response)
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.queue = _NO_QUEUE  # type: ignore[assignment]
        if response.status_code != 101:
            self.close_sent = True
            self.transport.close()
            return
        _forget_handshake(self.conn)
        self.start_keepalive()
        assert self.gate is not None
        self.stream = NativeStream(grace, self.gate, self, _Sink(self))
        self.stream.opened(event)

    def send_receive_event_to_app(self) -> None:
        stream = self.stream
        if stream is None:
            super().send_receive_event_to_app()
            return
        data = self.frames[0] if len(self.frames) == 1 else b"".join(self.frames)
        self.frames = []
        if self.close_sent:
            return
        if self.curr_msg_data_type == "text":
            try:
                text = data.decode()
            except UnicodeDecodeError:
                self.conn.send_close(1007, "invalid UTF-8")
                self.handle_parser_exception()
                return
            stream.received(text)
        else:
            stream.received(data)

    def start_close(self, code: int, reason: str) -> None:
        """The closing handshake from the server's side (idempotent): a close frame, then the
        transport is dropped after ``CLOSE_TIMEOUT`` if the client never answers. ``reason`` is
        cut to what a close frame holds (``close_reason``)."""
        if self.close_sent or self.transport.is_closing():
            return
        self.conn.send_close(code, close_reason(reason))
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        self.close_timer = self.loop.call_later(CLOSE_TIMEOUT, self._close_timed_out)

    def _close_timed_out(self) -> None:
        """The client did not answer the close frame in time: drop the connection now. Not
        ``transport.close()``, which would wait, buffers and socket held, for a client that
        does not read to take what is buffered for it."""
        self.close_timer = None
        self.transport.abort()

    def pause_reading(self) -> None:
        self.transport.pause_reading()

    def resume_reading(self) -> None:
        with contextlib.suppress(RuntimeError):  # the transport is already closing
            self.transport.resume_reading()

    def resume_writing(self) -> None:
        super().resume_writing()
        if self.stream is not None:
            self.stream.writable()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if self.stream is not None:
            self.stream.lost()
