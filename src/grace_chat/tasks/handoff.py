"""The runner's side of another executor (``tasks.executor``): a task handed to it, its reports
applied to the task, its cancel, and whether it may pause.

The runner still owns such a task's record and state machine: the task becomes ``running`` when
the executor reports the work began (``Report.started``), ``cancelling`` when a cancel reaches
work that runs, and pause and resume answer ``conflict`` unless the executor can pause.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from grace_chat.errors import Conflict
from grace_chat.events import EventType
from grace_chat.tasks.context import TaskCancelled
from grace_chat.tasks.executor import LOCAL, Executor, Job
from grace_chat.tasks.live import LiveTask, TaskBook
from grace_chat.tasks.model import TaskRecord, TaskState


@dataclass(eq=False)
class Report:
    """An executor's ``Reporter`` for one task."""

    book: TaskBook
    live: LiveTask

    async def started(self, detail: str | None = None) -> None:
        live = self.live
        if detail:
            self.book.on_log(live, detail)
        if live.record.state is TaskState.QUEUED:
            running = live.record.move(TaskState.RUNNING)
            await self.book.change(live, running, EventType.TASK_STARTED)

    def progress(self, fraction: float, note: str | None = None) -> None:
        self.book.on_progress(self.live, min(1.0, max(0.0, float(fraction))), note)

    def log(self, line: str) -> None:
        self.book.on_log(self.live, line)


def check_pausable(executors: Mapping[str, Executor], live: LiveTask | None) -> None:
    executor = live.spec.executor if live is not None else LOCAL
    if live is not None and executor != LOCAL and not executors[executor].pausable:
        raise Conflict(
            f"task {live.record.task_id} runs on {executor}: this executor cannot pause or resume"
        )


async def execute_elsewhere(
    executors: Mapping[str, Executor], book: TaskBook, live: LiveTask
) -> Any:
    spec, r = live.spec, live.record
    job = Job(
        r.task_id, r.user_id, r.task_type, spec.target or "", r.params, spec.timeout, spec.queue
    )
    try:
        return await executors[spec.executor].run(job, Report(book, live))
    except TaskCancelled:  # by Grace's cancel, or revoked on the far side
        if live.record.state in (TaskState.RUNNING, TaskState.PAUSED):
            await book.set(live, live.record.move(TaskState.CANCELLING))
        raise


async def cancel_elsewhere(
    executors: Mapping[str, Executor], book: TaskBook, live: LiveTask, grace: float
) -> TaskRecord:
    """Queued there, it stays ``queued`` until the executor confirms (a worker may be
    starting it right now); running, it becomes ``cancelling``."""
    if live.record.state is not TaskState.QUEUED:
        await book.set(live, live.record.move(TaskState.CANCELLING))
    await executors[live.spec.executor].cancel(live.record.task_id, grace)
    return live.record
