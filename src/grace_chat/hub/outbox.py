"""A connection's outbound queue, bounded, and the two ways it is drained.

* **Push** (a WebSocket on Grace's server, see ``grace_chat.api.ws_native``): once the connection
  hands its ``FrameSink`` to ``attach_sink``, frames pushed during one turn of the event loop are
  written together at the end of that turn, by the hub's ``Flusher``: everything one commit
  brought to the connection leaves in one socket write, with no task woken per frame. When the
  sink reports a full socket buffer the outbox holds its frames until the connection calls
  ``unblock``.
* **Pull** (SSE, or a WebSocket under another ASGI server): the connection's writer awaits
  ``next_batch``.

Guarantees: ``push`` never blocks and never raises; frames leave in the order they were pushed;
notification frames with ``seq`` at or below ``floor`` (already sent during replay) are dropped;
when more than ``capacity`` frames are waiting (the client does not read, so the sink stays
blocked), the queue is emptied, marked ``overflowed`` and ``on_overflow`` is called once, so a
stalled client costs bounded memory and the publisher never waits for it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from grace_chat.metrics import Metrics

#: Largest number of frames packed into one WebSocket message (separated by newlines).
MAX_BATCH_FRAMES = 256


class FrameSink(Protocol):
    """Writes text messages straight to one WebSocket connection."""

    def write(self, messages: Sequence[bytes]) -> bool:
        """Send each as one text message, in order, in one socket write, without waiting.

        Returns False when the peer is not keeping up (the socket's buffer is above its
        high-water mark): write nothing more until ``drained`` returns. Once the connection is
        closing, writes are dropped and True is returned (the client resumes from its seq).
        """
        ...

    async def drained(self) -> None:
        """Return once writing may go on, or the connection is gone."""
        ...


class Flusher:
    """Flushes each outbox that got frames, once, when the current turn of the loop is done
    (timed, once per turn, when given ``metrics``)."""

    __slots__ = ("_due", "_handle", "_metrics")

    def __init__(self, metrics: Metrics | None = None) -> None:
        self._due: list[Outbox] = []
        self._handle: asyncio.Handle | None = None
        self._metrics = metrics

    def add(self, box: Outbox) -> None:
        self._due.append(box)
        if self._handle is None:
            self._handle = asyncio.get_running_loop().call_soon(self._run)

    def _run(self) -> None:
        self._handle = None
        due, self._due = self._due, []
        started = time.perf_counter()
        for box in due:
            box.flush()
        if self._metrics is not None:
            self._metrics.flushed(time.perf_counter() - started)


def pack(frames: Sequence[bytes]) -> list[bytes]:
    """Frames as messages of at most ``MAX_BATCH_FRAMES`` frames joined by newlines."""
    if len(frames) == 1:
        return [frames[0]]
    return [
        b"\n".join(frames[i : i + MAX_BATCH_FRAMES])
        for i in range(0, len(frames), MAX_BATCH_FRAMES)
    ]


class Outbox:
    __slots__ = (
        "_blocked",
        "_due",
        "_flusher",
        "_frames",
        "_on_close",
        "_on_overflow",
        "_sink",
        "_waiter",
        "capacity",
        "closed",
        "floor",
        "overflowed",
        "transport",
    )

    def __init__(
        self,
        max_frames: int,
        on_overflow: Callable[[], None],
        flusher: Flusher | None = None,
        transport: str = "websocket",
    ) -> None:
        #: What carries the frames (``websocket``, ``sse``): for the metrics and the operator view.
        self.transport = transport
        # A list, not a deque: an empty deque keeps a block of 64 slots (over 600 bytes) for
        # every idle connection; frames leave the list all at once (push) or in batches (pull).
        self._frames: list[tuple[int, bytes]] = []
        self.capacity = max_frames
        self._on_overflow = on_overflow
        self._flusher = flusher
        self._sink: FrameSink | None = None
        self._on_close: Callable[[], None] | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._due = False
        self._blocked = False
        #: The last ``seq`` the connection's replay sent; -1 until the replay is done.
        self.floor = -1
        self.closed = False
        self.overflowed = False

    def push(self, seq: int, frame: bytes) -> None:
        """Queue a frame; ``seq`` is 0 for control frames (never dropped by ``floor``)."""
        if self.closed:
            return
        if len(self._frames) >= self.capacity:
            self.overflowed = True
            self.close()
            self._on_overflow()
            return
        self._frames.append((seq, frame))
        if self._sink is not None:
            if not self._due and not self._blocked and self._flusher is not None:
                self._due = True
                self._flusher.add(self)
        else:
            self._wake()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._frames.clear()
        self._wake()
        if self._on_close is not None:
            self._on_close()

    def __len__(self) -> int:
        return len(self._frames)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _wait(self) -> None:
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    def _take(self) -> list[bytes]:
        floor = self.floor
        out = [frame for seq, frame in self._frames if seq == 0 or seq > floor]
        self._frames.clear()
        return out

    # -- push ---------------------------------------------------------------------------------

    def attach_sink(self, sink: FrameSink, on_close: Callable[[], None] | None = None) -> None:
        """Switch to push: what is queued is written now, and later frames once per loop turn.

        ``on_close`` is called when the outbox is closed (by the hub at shutdown, or on
        overflow, before ``on_overflow``), for a connection with no task waiting on it."""
        self._sink = sink
        self._on_close = on_close
        self.flush()

    def flush(self) -> None:
        self._due = False
        sink = self._sink
        if sink is None or self.closed or self._blocked or not self._frames:
            return
        frames = self._take()
        if frames and not sink.write(pack(frames)):
            self._blocked = True

    @property
    def blocked(self) -> bool:
        """Push mode: the sink said its buffer is full; frames wait for ``unblock``."""
        return self._blocked

    def unblock(self) -> None:
        """The sink drained: write what queued up meanwhile."""
        self._blocked = False
        self.flush()

    # -- pull ---------------------------------------------------------------------------------

    async def next_batch(self) -> list[tuple[int, bytes]]:
        """Wait for frames and take up to ``MAX_BATCH_FRAMES`` (seq, frame) pairs; ``[]`` only
        once closed."""
        frames = self._frames
        batch: list[tuple[int, bytes]] = []
        while not batch:
            while not frames:
                if self.closed:
                    return []
                await self._wait()
            floor = self.floor
            taken = frames[:MAX_BATCH_FRAMES]
            del frames[:MAX_BATCH_FRAMES]
            batch = [item for item in taken if item[0] == 0 or item[0] > floor]
        return batch
