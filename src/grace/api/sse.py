"""SSE ``/api/notifications/sse``: the same frames as the WebSocket, one per event.

Notifications carry ``id: <seq>``, so a reconnecting ``EventSource`` (or ``curl -N`` with a
``Last-Event-ID`` header) resumes after the last one it saw. Keep-alive comments flow every
``sse_ping_seconds``. Commands go over REST.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.requests import Request

from grace.api.session import greet
from grace.auth import Identity
from grace.protocol import CloseCode, encode

if TYPE_CHECKING:
    from grace.app import Grace


def sse_response(grace: Grace, identity: Identity, since: int | None) -> EventSourceResponse:
    outbox = grace.hub.outbox(grace.settings.queue_max_frames, lambda: None)

    async def events() -> AsyncIterator[ServerSentEvent]:
        try:
            async for batch in greet(grace, identity, outbox, since):
                for seq, frame in batch:
                    yield _event(seq, frame)
            while True:
                batch = await outbox.next_batch()
                if not batch:
                    break
                for seq, frame in batch:
                    yield _event(seq, frame)
            if outbox.overflowed:
                closing: dict[str, Any] = {
                    "type": "error",
                    "code": "slow_consumer",
                    "close_code": int(CloseCode.SLOW_CONSUMER),
                    "message": "slow consumer: reconnect with Last-Event-ID to resume",
                }
                yield ServerSentEvent(data=encode(closing))
        finally:
            grace.hub.detach(identity.user_id, outbox)
            outbox.close()

    return EventSourceResponse(
        events(),
        ping=max(1, int(grace.settings.sse_ping_seconds)),
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _event(seq: int, frame: bytes) -> ServerSentEvent:
    return ServerSentEvent(data=frame.decode(), id=str(seq) if seq else None)


def last_event_id(request: Request) -> str | None:
    return request.headers.get("last-event-id")
