"""How a committed notification reaches the connections of its user, in this process or others.

Contract of a ``Backplane``:

* ``publish(user_id, seq, frame)`` is called by the notifier in commit order and must not block;
  every process's hub receives each (user_id, seq, frame) once, and one user's frames arrive in
  ``seq`` order.
* It carries already-serialized frames; it never parses them.

The in-process backplane hands frames straight to the local hub; a shared one (for several server
processes) relays them through a broker.
"""

from __future__ import annotations

from typing import Protocol

from grace.hub.hub import Hub


class Backplane(Protocol):
    def publish(self, user_id: str, seq: int, frame: bytes) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class LocalBackplane:
    """One process: publishing is delivering."""

    def __init__(self, hub: Hub) -> None:
        self._hub = hub

    def publish(self, user_id: str, seq: int, frame: bytes) -> None:
        self._hub.deliver(user_id, seq, frame)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None
