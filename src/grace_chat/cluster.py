"""Several processes on one shared database: the contracts of the cluster.

A process that starts a task or a mission owns it: the work runs in that process's memory (its
coroutine, its shell process group, its pause and cancel flags), so only that process can change
it. A person's command reaches whichever process holds their connection; when the work belongs
to another, the system hands the command to the owner through the ``ControlPlane`` and answers
with the owner's answer.

``ControlPlane`` guarantees:

* ``forward`` stores the request before it wakes the owner, so a lost wake-up costs time (the
  owner polls), never the request; the owner applies a request at most once (it claims the
  stored row first), and the caller gets exactly the owner's answer: the reply the owner's
  handler returned, or the ``GraceError`` it raised, with the same code and message. A request
  the owner has not claimed when the caller stops waiting (the owner's process stopped, or no
  answer within the timeout) is withdrawn first, so it is never applied after its caller was
  told it failed: the caller gets ``unavailable``.
* ``alive`` answers whether a process is connected to the database and its heartbeat is recent.
* ``signal`` reaches every process of the cluster, this one included, at most once each, with
  no ordering between topics; it is a wake-up only, so every listener must also find what it
  waits for by reading the store.

``Leadership`` guarantees that, of all the processes on one database, at most one leads at any
moment; the components added to it run only in the leader, are started when this process
becomes the leader and stopped when it stops leading (its database connection was lost, or the
process stops). When the leader dies another process takes over within a few heartbeats; when
it stays connected but stops answering, within the owner timeout and a heartbeat, and a leader
that wakes up after that answers ``leading`` false at once.

The embedded engine has no cluster: one process owns everything and nothing here is built.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from grace_chat.auth import Identity
from grace_chat.component import Component
from grace_chat.status import Provider

log = logging.getLogger("grace_chat.cluster")


@dataclass(frozen=True, slots=True)
class ControlRequest:
    """One command for work another process owns: ``kind`` names the handler (``task.cancel``),
    ``target`` the work (a task id), ``caller`` who asked (from their token, on the asking
    process)."""

    request_id: str
    kind: str
    target: str
    caller: Identity
    args: dict[str, Any] = field(default_factory=dict)


#: What the owner runs for a request: the reply, or a ``GraceError``.
Applier = Callable[[ControlRequest], Awaitable[dict[str, Any]]]


class Signals(Protocol):
    def subscribe(self, topic: str, callback: Callable[[str], None]) -> None:
        """Call ``callback(payload)`` for every ``signal`` of ``topic`` in the cluster."""
        ...

    async def signal(self, topic: str, payload: str) -> None: ...


class ControlPlane(Signals, Protocol):
    @property
    def instance(self) -> int:
        """This process's key: what the stores record as the owner of its work."""
        ...

    def serve(self, kind: str, apply: Applier) -> None:
        """Apply requests of ``kind`` sent to this process with ``apply``."""
        ...

    async def forward(
        self,
        owner: int,
        kind: str,
        target: str,
        caller: Identity,
        args: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Have process ``owner`` apply the request; its reply, or its error raised here."""
        ...

    async def alive(self, owner: int) -> bool: ...


class Leadership(Protocol):
    @property
    def leading(self) -> bool: ...

    def add(self, component: Component) -> None:
        """Run ``component`` only while this process leads (before the cluster starts)."""
        ...


class Cluster(ControlPlane, Leadership, Protocol):
    """What the composition root starts and stops: the control plane and the leadership of one
    process. ``beats`` is the work each heartbeat does besides the process's own (its tasks
    move their heartbeats); ``start`` runs after the stores and systems are up, ``stop`` before
    they stop (the leader's components stop with it)."""

    beats: list[Callable[[], Awaitable[None]]]

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class LeaderDuties:
    """The components that run only in the leader: started in the order added when this process
    is elected, stopped in the reverse order when it is not the leader any more. A component
    that fails to start is logged and skipped; the others still run."""

    def __init__(self) -> None:
        self.components: list[Component] = []
        self._running: list[Component] = []
        self._lock = asyncio.Lock()

    def add(self, component: Component) -> None:
        self.components.append(component)

    @property
    def running(self) -> bool:
        return bool(self._running)

    async def elected(self) -> None:
        async with self._lock:
            for component in self.components:
                if component in self._running:
                    continue
                try:
                    await component.start()
                except Exception:
                    log.exception("the leader could not start %s", component.name)
                    continue
                self._running.append(component)

    async def deposed(self) -> None:
        async with self._lock:
            while self._running:
                component = self._running.pop()
                try:
                    await component.stop()
                except Exception:
                    log.exception("stopping %s failed", component.name)


class Periodic:
    """A component that calls ``work`` every ``interval`` seconds, at once first; a failure is
    logged and the next round comes as usual."""

    def __init__(self, name: str, work: Callable[[], Awaitable[Any]], interval: float) -> None:
        self.name = name
        self.work = work
        self.interval = interval
        self._loop: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._loop is not None:
            self._loop.cancel()
            await asyncio.gather(self._loop, return_exceptions=True)
            self._loop = None

    async def _run(self) -> None:
        while True:
            try:
                await self.work()
            except Exception:
                log.exception("%s failed", self.name)
            await asyncio.sleep(self.interval)


def cluster_status(cluster: Cluster) -> Provider:
    """The cluster's section of "What is Grace doing?": for an admin, which process answered
    (its instance) and whether it leads; nothing for anyone else."""

    async def provider(caller: Identity) -> tuple[dict[str, Any], str | None]:
        if not caller.admin:
            return {}, None
        return {"process": str(cluster.instance), "leading": cluster.leading}, None

    return provider
