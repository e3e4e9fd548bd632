"""What a running task sees: ``ctx.progress``, ``ctx.log``, ``ctx.checkpoint``.

Cancel and pause are requests; the task applies them when it calls ``await ctx.checkpoint()``
(``ctx.checkpoint_sync()`` from a plain function running in a thread): a cancel raises
``TaskCancelled`` there, a pause waits there until resumed. ``progress`` and ``log`` never block
and may be called from the task's thread as well as from the event loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any


class TaskCancelled(Exception):
    """Raised inside a task at the checkpoint after a cancel was requested."""


class TaskFailed(Exception):
    """Raise to fail a task with a message meant for the person (e.g. "Connection timeout")."""


class Control:
    """Requests from the person to one running task."""

    def __init__(self) -> None:
        self.cancel = False
        self.pause = False
        self.resumed = asyncio.Event()
        self.resumed.set()
        self.resumed_sync = threading.Event()
        self.resumed_sync.set()

    def request_pause(self) -> None:
        self.pause = True
        self.resumed.clear()
        self.resumed_sync.clear()

    def release(self) -> None:
        self.pause = False
        self.resumed.set()
        self.resumed_sync.set()


class TaskContext:
    def __init__(
        self,
        task_id: str,
        user_id: str,
        params: dict[str, Any],
        control: Control,
        loop: asyncio.AbstractEventLoop,
        on_progress: Callable[[float, str | None], None],
        on_log: Callable[[str], None],
        on_paused: Callable[[], Coroutine[Any, Any, None]],
    ) -> None:
        self.task_id = task_id
        self.user_id = user_id
        self.params = params
        self._control = control
        self._loop = loop
        self._on_progress = on_progress
        self._on_log = on_log
        self._on_paused = on_paused

    def _in_loop(self, fn: Callable[..., None], *args: Any) -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            fn(*args)
        else:
            self._loop.call_soon_threadsafe(fn, *args)

    def progress(self, fraction: float, note: str | None = None) -> None:
        """Report how far the work is, from 0.0 to 1.0, with an optional short note."""
        self._in_loop(self._on_progress, min(1.0, max(0.0, float(fraction))), note)

    def log(self, line: str) -> None:
        self._in_loop(self._on_log, str(line))

    @property
    def cancel_requested(self) -> bool:
        return self._control.cancel

    async def checkpoint(self) -> None:
        control = self._control
        if control.cancel:
            raise TaskCancelled
        if control.pause:
            await self._on_paused()
            await control.resumed.wait()
            if control.cancel:
                raise TaskCancelled

    def checkpoint_sync(self) -> None:
        control = self._control
        if control.cancel:
            raise TaskCancelled
        if control.pause:
            asyncio.run_coroutine_threadsafe(self._on_paused(), self._loop).result()
            control.resumed_sync.wait()
            if control.cancel:
                raise TaskCancelled
