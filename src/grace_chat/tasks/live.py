"""The tasks this process holds (queued, running, paused, cancelling) and how their changes reach
the store and the bus.

Guarantees (``TaskBook``): a change is saved before it is announced, and announced only if the
store took it (a shared store keeps a task a cluster's leader interrupted while this process was
taken for dead: nothing this process says about that task afterwards reaches its user); one save
at a time per task,
each of the latest record, so a stored state never goes back (other processes read the row);
progress is announced at most once per ``progress_interval`` seconds and only when it moved by
``PROGRESS_STEP`` or its note changed; log lines are written in batches every
``LOG_FLUSH_SECONDS`` (at most ``log_limit`` waiting), and all of them before the task's final
state is saved.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import orjson

from grace_chat.events import Event, EventBus, EventType
from grace_chat.tasks.context import Control
from grace_chat.tasks.model import TaskRecord
from grace_chat.tasks.shell import ShellProcess
from grace_chat.tasks.store import TaskStore
from grace_chat.tasks.types import TaskSpec

log = logging.getLogger("grace_chat.tasks")

PROGRESS_STEP = 0.05
LOG_FLUSH_SECONDS = 0.5


def task_event(event_type: EventType, record: TaskRecord) -> Event:
    """The bus event that tells ``record``'s owner about it (``TASK_*``)."""
    data = {"user_id": record.user_id, **record.info(), "parent": record.parent}
    return Event(event_type, source="task_runner", data=data)


def jsonable(value: Any) -> Any:
    """``value`` as JSON values, or its ``repr`` when it is not one (a task's result)."""
    with contextlib.suppress(TypeError):
        return orjson.loads(orjson.dumps(value))
    return repr(value)


@dataclass(eq=False)
class LiveTask:
    """One task this process holds: its record as it is now and what runs it."""

    record: TaskRecord
    spec: TaskSpec
    control: Control = field(default_factory=Control)
    job: asyncio.Task[None] | None = None
    shell: ShellProcess | None = None
    stopping: bool = False
    #: The store refused a save: another process ended the task, nothing more is announced.
    fenced: bool = False
    last_reported: float = -1.0
    last_report_at: float = 0.0
    progress_timer: asyncio.TimerHandle | None = None
    log_timer: asyncio.TimerHandle | None = None
    log_buffer: list[tuple[float, str]] = field(default_factory=list)
    background: set[asyncio.Task[Any]] = field(default_factory=set)
    saving: asyncio.Lock = field(default_factory=asyncio.Lock)

    def spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run ``work`` beside the task; the task's end waits for it (``TaskBook.finish``)."""
        task = asyncio.get_running_loop().create_task(work)
        self.background.add(task)
        task.add_done_callback(self.background.discard)


class TaskBook:
    """Saves and announces the changes of live tasks (see the module's guarantees)."""

    def __init__(
        self, store: TaskStore, bus: EventBus, progress_interval: float, log_limit: int
    ) -> None:
        self.store = store
        self.bus = bus
        self.progress_interval = progress_interval
        self.log_limit = log_limit

    async def set(self, live: LiveTask, record: TaskRecord) -> bool:
        """Make ``record`` the task's and save it; whether the store took it."""
        live.record = record
        return await self.save(live)

    async def save(self, live: LiveTask) -> bool:
        """Save the task as it is now. One save at a time per task, each of the latest record:
        a save that started earlier never lands after a later state (other processes read the
        stored row). ``False`` when the store kept a final record instead: the task was
        interrupted by a cluster's leader, and this process's word about it is over."""
        async with live.saving:
            saved = await self.store.save(live.record)
        if not saved and not live.fenced:
            live.fenced = True
            log.warning(
                "task %s was ended by another process (this one was taken for dead); "
                "its later changes are not announced",
                live.record.task_id,
            )
        return saved and not live.fenced

    async def change(self, live: LiveTask, record: TaskRecord, event_type: EventType) -> None:
        """Save ``record`` and announce it with ``event_type`` if the store took it."""
        if await self.set(live, record):
            await self.emit(event_type, record)

    async def emit(self, event_type: EventType, record: TaskRecord) -> None:
        await self.bus.publish(task_event(event_type, record))

    async def finish(self, live: LiveTask, record: TaskRecord, event: EventType) -> None:
        """The task's final state: after its progress, its work beside it and its log lines."""
        if live.progress_timer is not None:
            live.progress_timer.cancel()
        if live.background:
            await asyncio.gather(*live.background, return_exceptions=True)
        await self.flush_log(live)
        await self.change(live, record, event)

    # -- progress and logs --------------------------------------------------------------------

    def on_progress(self, live: LiveTask, fraction: float, note: str | None) -> None:
        if live.record.state.terminal:
            return
        changed_note = note is not None and note != live.record.note
        live.record = live.record.with_(progress=fraction, note=note or live.record.note)
        if not changed_note and abs(fraction - live.last_reported) < PROGRESS_STEP:
            return
        wait = live.last_report_at + self.progress_interval - time.monotonic()
        if wait <= 0:
            self._report_progress(live)
        elif live.progress_timer is None:
            loop = asyncio.get_running_loop()
            live.progress_timer = loop.call_later(wait, self._report_progress, live)

    def _report_progress(self, live: LiveTask) -> None:
        live.progress_timer = None
        if live.record.state.terminal:
            return
        live.last_report_at = time.monotonic()
        live.last_reported = live.record.progress or 0.0
        record = live.record

        async def report() -> None:
            if await self.save(live):
                await self.emit(EventType.TASK_PROGRESS, record)

        live.spawn(report())

    def on_log(self, live: LiveTask, line: str) -> None:
        live.log_buffer.append((time.time(), line[:4000]))
        if len(live.log_buffer) > self.log_limit:
            del live.log_buffer[: len(live.log_buffer) - self.log_limit]
        if live.log_timer is None:
            loop = asyncio.get_running_loop()
            live.log_timer = loop.call_later(
                LOG_FLUSH_SECONDS, lambda: live.spawn(self.flush_log(live))
            )

    async def flush_log(self, live: LiveTask) -> None:
        if live.log_timer is not None:
            live.log_timer.cancel()
            live.log_timer = None
        lines, live.log_buffer = live.log_buffer, []
        await self.store.append_log(live.record.task_id, lines)
