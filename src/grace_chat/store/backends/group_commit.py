"""Group commit, as every engine of the notification log does it.

Appends that arrive while a transaction is being written wait together and go into the next one:
a burst of a thousand notifications costs a few commits, not a thousand. Guarantees:

* ``append`` returns the ``Posted`` of its drafts, in the order given, once their transaction
  committed; a caller that is cancelled cancels only its wait: its drafts are still written.
* Commit listeners are called once per committed transaction, with its notifications in commit
  order, before any of its ``append`` calls return; a listener that raises is logged and does
  not undo the commit.
* A transaction holds at most ``MAX_BATCH`` deliveries (a draft weighs its number of
  recipients), and never splits one caller's drafts. When a transaction fails, each of its
  callers gets the error; the next ones are tried afresh.
* Given ``metrics``, each transaction is counted once (entries appended, batch size, time to
  write, time its listeners took to fan it out), and each failed one once.
* Given a ``window`` (seconds), a transaction starts once its oldest append has waited that long,
  or at once when ``GATHER_DELIVERIES`` deliveries wait: at a steady rate several appends share
  one commit (one fsync) instead of one commit each, for at most ``window`` of added latency; a
  burst, which brings many at once, does not wait. The window applies only while appends
  overlap (the last transaction had several callers, or appends arrived while it was written):
  a caller that awaits each append in turn, alone, never waits for it, so the window does not
  throttle a sequential publisher to one notification per window. No append waits longer than
  ``window`` plus the transactions ahead of it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from grace_chat.errors import StoreUnavailable
from grace_chat.metrics import Metrics
from grace_chat.notifications.model import Draft, Posted
from grace_chat.notifications.store import CommitListener

log = logging.getLogger("grace_chat.store")

#: Most deliveries (draft × recipient) written in one transaction.
MAX_BATCH = 8192
#: With a window, this many deliveries waiting start a transaction without waiting further.
GATHER_DELIVERIES = 64

#: An append waiting for its transaction: drafts, the caller's future, weight, arrival time.
Waiting = tuple[Sequence[Draft], asyncio.Future[list[Posted]], int, float]


class GroupCommit:
    """Batches appends for ``write``, which stores drafts in one transaction and returns their
    ``Posted`` in order."""

    def __init__(
        self,
        write: Callable[[list[Draft]], Awaitable[list[Posted]]],
        metrics: Metrics | None = None,
        window: float = 0.0,
    ) -> None:
        self._write = write
        self._metrics = metrics
        self._window = max(0.0, window)
        self._listeners: list[CommitListener] = []
        self._pending: list[Waiting] = []
        self._weight = 0  # deliveries in ``_pending``
        self._flusher: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        #: Whether appends overlapped lately: the window applies only then (see the module).
        self._overlapping = False

    def add_listener(self, listener: CommitListener) -> None:
        self._listeners.append(listener)

    async def append(self, drafts: Sequence[Draft]) -> list[Posted]:
        if not drafts:
            return []
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Posted]] = loop.create_future()
        weight = sum(len(d.recipients) for d in drafts)
        self._pending.append((drafts, future, weight, loop.time()))
        self._weight += weight
        idle = self._flusher is None or self._flusher.done()  # a running one takes it next
        if idle and (self._timer is None or self._weight >= GATHER_DELIVERIES):
            self._schedule(loop)
        # a cancelled caller cancels only its wait: the drafts are queued and still written
        return await future

    async def drain(self) -> None:
        """Return once every append made so far has been written (or has failed)."""
        while True:
            if self._flusher is not None and not self._flusher.done():
                await self._flusher
            elif self._pending:
                self._start()
            else:
                return

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start the next transaction now, or when the oldest append's window ends."""
        if self._weight >= GATHER_DELIVERIES or not self._window or not self._overlapping:
            self._start()
            return
        if self._timer is None:
            self._timer = loop.call_at(self._pending[0][3] + self._window, self._start)

    def _start(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._pending and (self._flusher is None or self._flusher.done()):
            self._flusher = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        first = True
        while self._pending:
            gathering = not first and self._window and self._weight < GATHER_DELIVERIES
            if gathering and loop.time() < self._pending[0][3] + self._window:
                self._schedule(loop)  # the window of what arrived meanwhile is still open
                return
            first = False
            batch = self._next_batch()
            # several callers in one transaction, or more waiting behind it: appends overlap
            self._overlapping = len(batch) > 1 or bool(self._pending)
            drafts = [d for group, _, _, _ in batch for d in group]
            started = time.perf_counter()
            try:
                stored = await self._write(drafts)
            except Exception as exc:
                if self._metrics is not None:
                    self._metrics.commit_failed()
                if not isinstance(exc, StoreUnavailable):  # that one is logged once per episode
                    log.exception("appending %d notifications failed", len(drafts))
                for _, future, _, _ in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            written = time.perf_counter()
            for listener in self._listeners:
                try:
                    listener(stored)
                except Exception:
                    log.exception("commit listener failed")
            if self._metrics is not None:
                entries = sum(len(d.recipients) for d in drafts)
                self._metrics.committed(entries, written - started, time.perf_counter() - written)
            start = 0
            for group, future, _, _ in batch:
                if not future.done():
                    future.set_result(stored[start : start + len(group)])
                start += len(group)
            self._overlapping = self._overlapping or bool(self._pending)

    def _next_batch(self) -> list[Waiting]:
        batch: list[Waiting] = []
        size = 0
        while self._pending:
            weight = self._pending[0][2]
            if batch and size + weight > MAX_BATCH:
                break
            batch.append(self._pending.pop(0))
            size += weight
        self._weight -= size
        return batch
