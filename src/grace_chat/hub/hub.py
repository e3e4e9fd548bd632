"""The hub: which connections each user has open, and delivery to all of them.

Guarantees: ``deliver`` is synchronous and O(connections of that user); it hands the same frame
bytes to every outbox, so a notification is serialized once however many tabs are open; outboxes
in push mode are flushed by the hub's one ``flusher`` when the loop turn ends; a user
never receives a frame delivered for another user. An outbox that is closed (a slow consumer whose
queue overflowed) is dropped at once, so a stalled connection holds no memory in the hub while
its socket is being shut. ``attach`` with a ``limit`` admits at most that many connections per
user (the check and the attach are one step, so connections arriving together cannot all slip
under it); each user with a connection has one command budget (``user_bucket``) that all their
connections draw from, dropped with their last connection.

For the metrics, the hub keeps plain counts a scrape reads (``delivered``, ``slow_consumers``,
``attached``): ``deliver`` adds to one integer per call, never per connection.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator

from grace_chat.hub.outbox import Flusher, Outbox
from grace_chat.metrics import Metrics


class TokenBucket:
    """Commands per second with a burst allowance."""

    __slots__ = ("_burst", "_last", "_rate", "_tokens")

    def __init__(self, rate: float, burst: int) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._last = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
        self._last = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True


class Hub:
    def __init__(self, metrics: Metrics | None = None) -> None:
        self._users: dict[str, set[Outbox]] = {}
        self._buckets: dict[str, TokenBucket] = {}
        self._online: dict[str, list[asyncio.Future[None]]] = {}
        self.flusher = Flusher(metrics)
        #: Notification frames handed to connections' outboxes (control frames not counted).
        self.delivered = 0
        #: Connections closed because their outbox overflowed.
        self.slow_consumers = 0
        #: Connections attached since start, by transport.
        self.attached: dict[str, int] = {}

    def outbox(
        self, max_frames: int, on_overflow: Callable[[], None], transport: str = "websocket"
    ) -> Outbox:
        """A new connection's outbox, flushed by this hub; ``transport`` names what carries it."""

        def overflowed() -> None:
            self.slow_consumers += 1
            on_overflow()

        return Outbox(max_frames, overflowed, self.flusher, transport)

    def attach(self, user_id: str, outbox: Outbox, limit: int | None = None) -> bool:
        """Add ``outbox`` to the user's connections; False (and nothing added) when the user
        already has ``limit`` of them."""
        boxes = self._users.get(user_id)
        if boxes is None:
            boxes = self._users[user_id] = set()
        elif limit is not None and len(boxes) >= limit and outbox not in boxes:
            return False
        if outbox not in boxes:
            self.attached[outbox.transport] = self.attached.get(outbox.transport, 0) + 1
        boxes.add(outbox)
        for waiter in self._online.pop(user_id, ()):
            if not waiter.done():
                waiter.set_result(None)
        return True

    def user_bucket(self, user_id: str, rate: float, burst: int) -> TokenBucket:
        """The command budget all of a connected user's connections share (a fresh one, kept
        nowhere, for a user with no connection)."""
        bucket = self._buckets.get(user_id)
        if bucket is None:
            bucket = TokenBucket(rate, burst)
            if user_id in self._users:
                self._buckets[user_id] = bucket
        return bucket

    async def wait_online(self, user_id: str) -> None:
        """Return once ``user_id`` has at least one open connection."""
        if user_id in self._users:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._online.setdefault(user_id, []).append(waiter)
        await waiter

    def detach(self, user_id: str, outbox: Outbox) -> None:
        boxes = self._users.get(user_id)
        if boxes is None:
            return
        boxes.discard(outbox)
        if not boxes:
            del self._users[user_id]
            self._buckets.pop(user_id, None)

    def deliver(self, user_id: str, seq: int, frame: bytes, exclude: Outbox | None = None) -> None:
        boxes = self._users.get(user_id)
        if boxes:
            handed = 0
            for box in tuple(boxes):
                if box is exclude:
                    continue
                box.push(seq, frame)
                if box.closed:
                    self.detach(user_id, box)
                else:
                    handed += 1
            if seq:
                self.delivered += handed

    def send_control(self, user_id: str, frame: bytes, exclude: Outbox | None = None) -> None:
        """A control frame (no seq) to every connection of ``user_id`` but ``exclude``."""
        self.deliver(user_id, 0, frame, exclude)

    def connection_count(self, user_id: str | None = None) -> int:
        if user_id is not None:
            return len(self._users.get(user_id, ()))
        return sum(len(b) for b in self._users.values())

    def connections(self, user_id: str) -> tuple[Outbox, ...]:
        """The outboxes of ``user_id``'s open connections in this process."""
        return tuple(self._users.get(user_id, ()))

    def outboxes(self) -> Iterator[Outbox]:
        """Every open connection's outbox in this process."""
        for boxes in self._users.values():
            yield from boxes

    def transports(self) -> dict[str, dict[str, int]]:
        """Per user with a connection in this process: how many each transport carries."""
        counts: dict[str, dict[str, int]] = {}
        for user_id, boxes in self._users.items():
            mine = counts[user_id] = {}
            for box in boxes:
                mine[box.transport] = mine.get(box.transport, 0) + 1
        return counts

    def online_users(self) -> list[str]:
        return list(self._users)

    def close_all(self) -> None:
        for boxes in list(self._users.values()):
            for box in list(boxes):
                box.close()
