"""What every streaming connection does, WebSocket or SSE: greet, replay, go live.

The order is what makes delivery exactly-once without locks: the connection's outbox is attached
to the hub *before* the log is read, so a notification committed during the replay is either in
the replay or queued live; queued frames at or below the replayed ``seq`` are dropped by the
outbox's ``floor``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from grace.auth import Identity
from grace.hub.outbox import Outbox
from grace.protocol import PROTOCOL_VERSION, dumps

if TYPE_CHECKING:
    from grace.app import Grace

REPLAY_PAGE = 500


async def greet(
    grace: Grace, identity: Identity, outbox: Outbox, since: int | None
) -> AsyncIterator[list[tuple[int, bytes]]]:
    """Attach ``outbox`` and yield batches: welcome, the replay after ``since``, then synced.

    The caller sends each batch, then runs its writer on the outbox; the caller detaches.
    """
    user = identity.user_id
    grace.hub.attach(user, outbox)
    head = await grace.store.head(user)
    welcome: dict[str, Any] = {
        "type": "welcome",
        "user_id": user,
        "epoch": grace.store.epoch,
        "seq": head.seq,
        "unread": head.unread,
        "protocol": PROTOCOL_VERSION,
    }
    yield [(0, dumps(welcome))]
    gap = False
    cursor = head.seq
    if since is not None:
        if since > head.seq:
            gap = True  # the client knows a log this server does not: a different epoch
        else:
            gap = since + 1 < head.first_seq
            cursor = since
            while True:
                page = await grace.store.read_since(user, cursor, REPLAY_PAGE)
                if not page:
                    break
                yield [(n.seq, dumps(n.frame())) for n in page]
                cursor = page[-1].seq
                if len(page) < REPLAY_PAGE:
                    break
    outbox.floor = cursor
    synced: dict[str, Any] = {"type": "synced", "seq": cursor}
    if gap:
        synced["gap"] = True
    yield [(0, dumps(synced))]


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
