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
* When the broker is down, a shared backplane keeps the process serving: frames it cannot relay
  are dropped, never queued without bound, and each connection of the affected users is closed
  (going away) so that its client reconnects and resumes from its last ``seq``; nothing stored is
  lost, because the log, not the backplane, is the source of truth.

What stays per process, whatever the backplane: the open connections and their outboxes (the
hub), the presence of a user (``Hub.wait_online``), a running task's cancel and pause flags, and
approval waiters. The log, tasks, approvals and every other store are shared through the
database.

The in-process backplane hands frames straight to the local hub; a shared one (for several server
processes) relays them through a broker.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from grace.hub.hub import Hub
from grace.hub.outbox import Outbox


class Backplane(Protocol):
    def publish(self, user_id: str, seq: int, frame: bytes) -> None: ...

    def send_control(self, user_id: str, frame: bytes, exclude: Outbox | None = None) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


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
