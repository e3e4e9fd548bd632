"""The event bus: how background systems tell Grace what happened.

Guarantees of ``EventBus``:

* ``await bus.publish(event)`` calls every handler subscribed to ``event.event_type`` (and every
  catch-all handler) and returns when all of them have finished, so a caller that publishes a
  notification-worthy event knows the notification is stored once ``publish`` returns.
* Handlers may be plain functions or coroutine functions; async handlers run concurrently.
* A handler that raises is logged with its traceback and never stops the other handlers, nor
  reaches the publisher.
* ``publish_nowait`` is for synchronous code; the bus keeps a reference to the task it starts and
  ``drain()`` awaits every such task (the application calls it on shutdown).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from grace_chat.errors import GraceError

log = logging.getLogger("grace_chat.events")
T = TypeVar("T")


class EventType(StrEnum):
    """Kinds of events. The first three are the names the original design used."""

    GOVERNANCE_CHECK = "governance_check"
    LEARNING_OUTCOME = "learning_outcome"
    AGENT_ACTION = "agent_action"
    TASK_STARTED = "task_started"
    TASK_PROGRESS = "task_progress"
    TASK_COMPLETED = "task_completed"
    TASK_FAILED = "task_failed"
    TASK_CANCELLED = "task_cancelled"
    TASK_PAUSED = "task_paused"
    TASK_RESUMED = "task_resumed"
    TASK_INTERRUPTED = "task_interrupted"
    APPROVAL_DECIDED = "approval_decided"
    HEALTH_CHECK = "health_check"
    MISSION_UPDATE = "mission_update"
    NOTIFICATION = "notification"


@dataclass(frozen=True, slots=True)
class Event:
    event_type: EventType
    source: str
    data: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    timestamp: datetime = field(default_factory=lambda: datetime.now(UTC))
    trace_id: str | None = None


Handler = Callable[[Event], Any]
_ALL = "*"


class EventBus:
    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = {}
        self._pending: set[asyncio.Task[Any]] = set()

    def subscribe(self, event_type: EventType | None, handler: Handler) -> Callable[[], None]:
        """Call ``handler`` for every event of ``event_type`` (``None``: every event).

        Returns a function that removes the subscription.
        """
        key = _ALL if event_type is None else EventType(event_type).value
        handlers = self._handlers.setdefault(key, [])
        handlers.append(handler)

        def unsubscribe() -> None:
            if handler in handlers:
                handlers.remove(handler)

        return unsubscribe

    async def publish(self, event: Event) -> None:
        handlers = [*self._handlers.get(event.event_type.value, ()), *self._handlers.get(_ALL, ())]
        waiting: list[Awaitable[Any]] = []
        for handler in handlers:
            try:
                result = handler(event)
            except Exception:
                log.exception("event handler %s failed on %s", _name(handler), event.event_type)
                continue
            if inspect.isawaitable(result):
                waiting.append(result)
        if not waiting:
            return
        outcomes = await asyncio.gather(*waiting, return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                if isinstance(outcome, asyncio.CancelledError):
                    raise outcome
                log.error("event handler failed on %s", event.event_type, exc_info=outcome)

    def publish_nowait(self, event: Event) -> None:
        """Publish from synchronous code running in the event loop's thread."""
        self.track(self.publish(event))

    def track(self, work: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """Run ``work`` now in the background; ``drain`` waits for it; a failure is logged."""
        task = asyncio.get_running_loop().create_task(work)
        self._pending.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._pending.discard(task)
        if task.cancelled() or (exc := task.exception()) is None:
            return
        if isinstance(exc, GraceError):
            log.warning("background work refused: %s", exc.message)
        else:
            log.error("background work failed", exc_info=exc)

    async def drain(self) -> None:
        while self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)


def _name(handler: Handler) -> str:
    return getattr(handler, "__qualname__", repr(handler))
