"""How frames reach the connections of a user, in this process or in others.

Contract of a ``Backplane``:

* Every frame that must reach a user's connections goes through it, none around it:
  notifications (``publish``, called by the notifier in commit order) and control frames that
  tell a user's other chats what changed (``send_control``: ``read``, ...). Task and approval
  updates are notifications, so they travel as notifications.
* ``publish`` and ``send_control`` must not block the caller. Every process's hub receives each
  (user_id, seq, frame) once, and one user's notification frames arrive in ``seq`` order.
* It carries already-serialized frames; it never parses them.
* ``exclude`` names a connection of *this* process (the one a command came from); other
  processes deliver to all of the user's connections.
* When the broker is down, a shared backplane keeps the process serving and publishing: the
  notification is stored and ``publish`` returns as usual (the log, not the backplane, is the
  source of truth). Delivery falls back to what the process can do alone: its own connections
  get its own notifications at once; frames it cannot relay are dropped, never queued without
  bound. Other processes' clients catch up when they resume, or when the broker answers again:
  then every process re-reads, from the log, what its connected users missed. An outage is
  logged once when it starts and once when it ends, never once per frame.
* Where frames can be lost or reordered on the way (a broker, several publishing processes),
  the backplane remembers per user with open connections here the last ``seq`` it delivered:
  a frame that skips ahead is delivered only after the hole is filled from the log
  (``LogReader``), and a frame at or below it is dropped, so every connection sees each
  ``seq`` once, in order.

What stays per process, whatever the backplane: the open connections and their outboxes (the
hub), the presence of a user (``Hub.wait_online``), a running task's cancel and pause flags, and
approval waiters. The log, tasks, approvals and every other store are shared through the
database; commands for a task another process runs, and approval decisions a waiter elsewhere is
waiting for, reach it through the cluster's control plane (``grace_chat.cluster``), not here.

The in-process backplane hands frames straight to the local hub; a shared one (for several server
processes) relays them through a broker: ``hub/backends/redis.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from grace_chat.hub.hub import Hub
from grace_chat.hub.outbox import Outbox


class Backplane(Protocol):
    def publish(self, user_id: str, seq: int, frame: bytes) -> None: ...

    def send_control(self, user_id: str, frame: bytes, exclude: Outbox | None = None) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@runtime_checkable
class Reachable(Protocol):
    """A part that works through a broker (a backplane that relays through one, the Celery
    executor), which the readiness check asks."""

    async def reachable(self) -> None:
        """Return once the broker answered a round trip; raise ``Unavailable`` saying what is
        not reachable."""
        ...


class LogReader(Protocol):
    """What a shared backplane reads from the notification log to fill a hole: a user's
    notification frames after ``after``, oldest first, at most ``limit``, as ``(seq, frame)``."""

    async def frames_since(
        self, user_id: str, after: int, limit: int
    ) -> Sequence[tuple[int, bytes]]: ...


#: How the application makes its backplane: given the local hub it must deliver into.
BackplaneFactory = Callable[[Hub], Backplane]


class LocalBackplane:
    """One process: publishing is delivering."""

    def __init__(self, hub: Hub) -> None:
        self._hub = hub

    def publish(self, user_id: str, seq: int, frame: bytes) -> None:
        self._hub.deliver(user_id, seq, frame)

    def send_control(self, user_id: str, frame: bytes, exclude: Outbox | None = None) -> None:
        self._hub.send_control(user_id, frame, exclude)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None
