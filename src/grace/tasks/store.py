"""Where tasks live: the contract of a task store.

Guarantees: ``save`` replaces the whole record atomically; ``list_for_user`` returns only that
user's tasks, active ones first, then the most recently finished; task logs are bounded
(``log_limit`` newest lines per task are kept); ``interrupt_active`` moves every task that was
not terminal to ``interrupted`` in one step and returns the records it changed (run at start-up,
when no task of this store can still be running).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from grace.tasks.model import TaskRecord


class TaskStore(Protocol):
    async def open(self) -> None: ...

    async def save(self, task: TaskRecord) -> None: ...

    async def get(self, task_id: str) -> TaskRecord | None: ...

    async def list_for_user(
        self, user_id: str | None, *, include_finished: bool = True, limit: int = 50
    ) -> list[TaskRecord]:
        """``user_id=None`` lists every user's tasks (admin views)."""
        ...

    async def append_log(self, task_id: str, lines: Sequence[tuple[float, str]]) -> None: ...

    async def read_log(self, task_id: str, limit: int) -> list[tuple[float, str]]: ...

    async def interrupt_active(self) -> list[TaskRecord]: ...
