"""A connection's outbound queue: bounded, drained by the connection's own writer.

Guarantees: ``push`` never blocks and never raises; frames come out of ``next_batch`` in the order
they were pushed; notification frames with ``seq`` at or below ``floor`` (already sent during
replay) are dropped; when more than ``max_frames`` are waiting, the queue is emptied, marked
``overflowed`` and ``on_overflow`` is called once, so a stalled client costs bounded memory and the
publisher never waits for it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

#: Largest number of frames packed into one WebSocket message.
MAX_BATCH_FRAMES = 256


class Outbox:
    __slots__ = ("_frames", "_on_overflow", "_waiter", "capacity", "closed", "floor", "overflowed")

    def __init__(self, max_frames: int, on_overflow: Callable[[], None]) -> None:
        self._frames: deque[tuple[int, str]] = deque()
        self.capacity = max_frames
        self._on_overflow = on_overflow
        self._waiter: asyncio.Future[None] | None = None
        self.floor = 0
        self.closed = False
        self.overflowed = False

    def push(self, seq: int, text: str) -> None:
        """Queue a frame; ``seq`` is 0 for control frames (never dropped by ``floor``)."""
        if self.closed:
            return
        if len(self._frames) >= self.capacity:
            self.overflowed = True
            self.close()
            self._on_overflow()
            return
        self._frames.append((seq, text))
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def close(self) -> None:
        self.closed = True
        self._frames.clear()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def __len__(self) -> int:
        return len(self._frames)

    async def next_batch(self) -> list[tuple[int, str]]:
        """Wait for frames and take up to ``MAX_BATCH_FRAMES``; ``[]`` only once closed."""
        batch: list[tuple[int, str]] = []
        frames = self._frames
        while not batch:
            while not frames:
                if self.closed:
                    return []
                self._waiter = asyncio.get_running_loop().create_future()
                try:
                    await self._waiter
                finally:
                    self._waiter = None
            floor = self.floor
            while frames and len(batch) < MAX_BATCH_FRAMES:
                item = frames.popleft()
                if item[0] == 0 or item[0] > floor:
                    batch.append(item)
        return batch
