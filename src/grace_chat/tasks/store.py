"""Where tasks live: the contract of a task store.

Guarantees: ``save`` replaces the whole record atomically and answers whether it did (a shared
store keeps a record that reached a terminal state, the task of a process a cluster's leader took
for dead, and answers ``False``); ``list_for_user`` returns only that user's tasks, active ones
first, then the most recently finished; task logs are bounded (``log_limit`` newest lines per
task are kept); ``interrupt_active`` moves every task that was
not terminal to ``interrupted`` in one step and returns the records it changed (run at start-up,
when no task of this store can still be running).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import orjson

from grace_chat.records import Row
from grace_chat.tasks.model import TaskRecord, TaskState

#: Why ``interrupt_active`` stopped a task.
STOPPED = "the server stopped while it ran"

#: Why a cluster's leader stopped a task whose process stopped or stopped answering.
ORPHANED = "the process running it stopped"

#: The columns every engine reads a task from, in the order ``task_from_row`` expects.
COLUMNS = (
    "task_id, user_id, task_type, state, params, title, progress, note, created_at, "
    "started_at, finished_at, result, error, pause_requested, parent"
)


def task_from_row(row: Row) -> TaskRecord:
    """A task from a row of ``COLUMNS`` (JSON fields as bytes or text)."""
    return TaskRecord(
        task_id=row[0],
        user_id=row[1],
        task_type=row[2],
        state=TaskState(row[3]),
        params=orjson.loads(row[4]),
        title=row[5],
        progress=row[6],
        note=row[7],
        created_at=row[8],
        started_at=row[9],
        finished_at=row[10],
        result=orjson.loads(row[11]) if row[11] is not None else None,
        error=row[12],
        pause_requested=bool(row[13]),
        parent=row[14],
    )


def task_values(t: TaskRecord) -> tuple[Any, ...]:
    """The values of ``COLUMNS`` for a task, in order."""
    return (
        t.task_id,
        t.user_id,
        t.task_type,
        t.state.value,
        orjson.dumps(t.params),
        t.title,
        t.progress,
        t.note,
        t.created_at,
        t.started_at,
        t.finished_at,
        orjson.dumps(t.result) if t.result is not None else None,
        t.error,
        t.pause_requested,
        t.parent,
    )


class TaskStore(Protocol):
    async def open(self) -> None: ...

    async def save(self, task: TaskRecord) -> bool:
        """Store ``task``; ``False`` when the stored record is final and was kept."""
        ...

    async def get(self, task_id: str) -> TaskRecord | None: ...

    async def list_for_user(
        self, user_id: str | None, *, include_finished: bool = True, limit: int = 50
    ) -> list[TaskRecord]:
        """``user_id=None`` lists every user's tasks (admin views)."""
        ...

    async def append_log(self, task_id: str, lines: Sequence[tuple[float, str]]) -> None: ...

    async def read_log(self, task_id: str, limit: int) -> list[tuple[float, str]]: ...

    async def interrupt_active(self) -> list[TaskRecord]: ...
