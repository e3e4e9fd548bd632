"""SSE ``/api/notifications/sse``: the same frames as the WebSocket, one per event.

Notifications carry ``id: <seq>``, so a reconnecting ``EventSource`` (or ``curl -N`` with a
``Last-Event-ID`` header) resumes after the last one it saw. Keep-alive comments flow every
``sse_ping_seconds``. Commands go over REST. The stream ends with an ``error`` event (its
``close_code`` says why, as a WebSocket's close would) when the client fell behind or when the
token it was opened with expires.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.requests import Request

from grace_chat.api.session import TOKEN_EXPIRED, admit, greet, too_many_connections
from grace_chat.auth import Identity
from grace_chat.errors import ErrorCode
from grace_chat.protocol import CloseCode, encode

if TYPE_CHECKING:
    from grace_chat.app import Grace


def sse_response(grace: Grace, identity: Identity, since: int | None) -> EventSourceResponse:
    """The stream for ``identity``; raises ``RateLimited`` (HTTP 429) when the user already has
    ``max_connections_per_user`` streams open."""
    settings = grace.settings
    if grace.hub.connection_count(identity.user_id) >= settings.max_connections_per_user:
        raise too_many_connections(settings)
    outbox = grace.hub.outbox(settings.queue_max_frames, lambda: None, transport="sse")

    async def events() -> AsyncIterator[ServerSentEvent]:
        # Admitted here, where the detach below is certain to follow; a stream opened by the user
        # since the check above may still take the last place.
        if admit(grace, identity, outbox) is None:
            error = too_many_connections(settings)
            yield _closing(error.code, CloseCode.TOO_MANY_CONNECTIONS, error.message)
            return
        try:
            async for batch in greet(grace, identity, outbox, since):
                for seq, frame in batch:
                    yield _event(seq, frame)
            while True:
                left = identity.seconds_left()
                if left is not None and left <= 0:
                    yield _closing(
                        ErrorCode.UNAUTHENTICATED, CloseCode.UNAUTHENTICATED, TOKEN_EXPIRED
                    )
                    break
                try:
                    async with asyncio.timeout(left):
                        batch = await outbox.next_batch()
                except TimeoutError:
                    continue  # the token expired: the check above ends the stream
                if not batch:
                    if outbox.overflowed:
                        yield _closing(
                            ErrorCode.SLOW_CONSUMER,
                            CloseCode.SLOW_CONSUMER,
                            "slow consumer: reconnect with Last-Event-ID to resume",
                        )
                    break
                for seq, frame in batch:
                    yield _event(seq, frame)
        finally:
            grace.hub.detach(identity.user_id, outbox)
            outbox.close()

    return EventSourceResponse(
        events(),
        ping=max(1, int(grace.settings.sse_ping_seconds)),
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _closing(code: ErrorCode, close_code: CloseCode, message: str) -> ServerSentEvent:
    """The stream's last event: why it ends, with the close code a WebSocket would get."""
    frame: dict[str, Any] = {
        "type": "error",
        "code": code.value,
        "close_code": int(close_code),
        "message": message,
    }
    return ServerSentEvent(data=encode(frame))


def _event(seq: int, frame: bytes) -> ServerSentEvent:
    return ServerSentEvent(data=frame.decode(), id=str(seq) if seq else None)


def last_event_id(request: Request) -> str | None:
    return request.headers.get("last-event-id")
