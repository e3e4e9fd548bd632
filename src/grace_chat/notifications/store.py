"""The durable per-user notification log: the contract every store engine keeps.

Guarantees of a ``NotificationStore``:

* ``append(drafts)`` stores each draft once and gives it the next ``seq`` in the log of each of
  its recipients: per user strictly increasing by one, with no holes and never reused (not even
  after retention deleted the entries before it, nor after a restart). It returns one ``Posted``
  per draft, in the order given, only once they are durable. Notification ids are unique within
  the log (a draft's copies share its id) and never reused.
* Commit listeners are called on the event loop, once per committed batch, with that batch in
  commit order, before the matching ``append`` calls return. A listener that raises is logged and
  does not undo the commit.
* Concurrent ``append`` calls are grouped into as few transactions as the engine can manage
  (group commit), so a burst does not cost one disk flush per notification. An ``append`` whose
  caller is cancelled is still written.
* Reads see only committed data; one user's reads never return another user's rows.
* In each user's log ``seq`` order is commit order, even with several processes appending to
  one log: once a reader has seen ``seq`` N, every ``seq`` below N is committed too, so
  ``read_since`` never returns a hole that a later commit fills.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from grace_chat.notifications.model import Draft, Notification, Posted, Replayed

CommitListener = Callable[[Sequence[Posted]], None]


@dataclass(frozen=True, slots=True)
class LogHead:
    """Where a user's log stands: ``seq`` is the latest assigned (0: none yet); ``first_seq`` is
    the oldest still retained (``seq + 1`` when nothing is retained)."""

    seq: int
    first_seq: int
    unread: int


@dataclass(frozen=True, slots=True)
class MarkReadResult:
    marked: int
    unread: int


class NotificationStore(Protocol):
    #: Random id of this log's incarnation; a client seeing a new epoch must forget its seq.
    epoch: str

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    def add_commit_listener(self, listener: CommitListener) -> None: ...

    async def append(self, drafts: Sequence[Draft]) -> list[Posted]: ...

    async def read_since(self, user_id: str, since: int, limit: int) -> list[Notification]:
        """Notifications with ``seq > since``, oldest first, at most ``limit``."""
        ...

    async def replay(self, user_id: str, since: int, limit: int) -> list[Replayed]:
        """The page ``read_since`` reads, as a replay sends it: each frame the JSON of
        ``Notification.frame`` (``Replayed``). On the path of every reconnect: an engine reads
        and encodes it in one go, without building the notifications."""
        ...

    async def read_latest(
        self, user_id: str, limit: int, before: int | None = None
    ) -> list[Notification]:
        """The newest notifications (below ``before`` when given), newest first."""
        ...

    async def head(self, user_id: str) -> LogHead: ...

    async def mark_read(
        self,
        user_id: str,
        *,
        ids: Sequence[str] | None = None,
        up_to_seq: int | None = None,
        everything: bool = False,
    ) -> MarkReadResult: ...

    async def prune(self) -> int:
        """Apply retention (count per user and age); returns how many entries were removed."""
        ...


class LogFrames:
    """A log as a shared backplane reads it to fill a hole (``grace_chat.hub.backplane.LogReader``):
    a user's notification frames after a ``seq``, serialized as a replay serializes them."""

    __slots__ = ("_store",)

    def __init__(self, store: NotificationStore) -> None:
        self._store = store

    async def frames_since(self, user_id: str, after: int, limit: int) -> list[tuple[int, bytes]]:
        page = await self._store.replay(user_id, after, limit)
        return [(n.seq, n.frame) for n in page]
