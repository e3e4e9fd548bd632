"""Grace's WebSocket server protocol: uvicorn's sans-I/O one, plus a frame sink for the app.

Through plain ASGI every message costs an ``await send(...)`` through Starlette and uvicorn, and
one socket write. The hub instead flushes, at the end of each turn of the event loop, everything
queued for a connection at once. This protocol lets it: the ASGI scope of each WebSocket carries
``scope["extensions"]["grace.frame_sink"]``, a ``FrameSink`` that frames messages with the
connection's own ``websockets`` protocol object (so extensions and state stay right) and hands
them to the transport in one ``write``. Under any other ASGI server the extension is absent and
connections fall back to ``await websocket.send_text``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

#: The ASGI scope extension that carries a connection's ``FrameSink``.
SINK_EXTENSION = "grace.frame_sink"


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
    """``uvicorn.Config(ws=GraceWebSocketProtocol)``."""

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None and not self.close_sent:
            scope["extensions"][SINK_EXTENSION] = _Sink(self)
