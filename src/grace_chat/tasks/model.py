"""A background task's record and its state machine.

``queued → running ⇄ paused``, ``running|paused → cancelling → cancelled``; terminal states are
``succeeded``, ``failed``, ``cancelled`` and ``interrupted`` (the process died under the task).
``TaskRecord.move`` is the only way to change state; an illegal move raises ``Conflict`` and leaves
the record as it was.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from grace_chat.errors import Conflict
from grace_chat.notifications.model import iso_utc_ts


class TaskState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    CANCELLING = "cancelling"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL

    @property
    def active(self) -> bool:
        return self not in TERMINAL


TERMINAL = frozenset(
    {TaskState.SUCCEEDED, TaskState.FAILED, TaskState.CANCELLED, TaskState.INTERRUPTED}
)

_S = TaskState
ALLOWED: dict[TaskState, frozenset[TaskState]] = {
    _S.QUEUED: frozenset({_S.RUNNING, _S.CANCELLED, _S.INTERRUPTED, _S.FAILED}),
    _S.RUNNING: frozenset({_S.PAUSED, _S.CANCELLING, _S.SUCCEEDED, _S.FAILED, _S.INTERRUPTED}),
    _S.PAUSED: frozenset({_S.RUNNING, _S.CANCELLING, _S.INTERRUPTED, _S.FAILED}),
    _S.CANCELLING: frozenset({_S.CANCELLED, _S.SUCCEEDED, _S.FAILED, _S.INTERRUPTED}),
}


def humanize(seconds: float) -> str:
    """``323`` → ``5m 23s``; ``7384`` → ``2h 3m``; ``9`` → ``9s``."""
    whole = int(max(0.0, seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def type_title(task_type: str) -> str:
    """``deployment`` → ``Deployment``; ``db_backup`` → ``Db backup``."""
    return task_type.replace("_", " ").replace("-", " ").capitalize()


@dataclass(frozen=True, slots=True)
class TaskRecord:
    task_id: str
    user_id: str
    task_type: str
    state: TaskState = TaskState.QUEUED
    params: dict[str, Any] = field(default_factory=dict)
    title: str = ""
    progress: float | None = None
    note: str | None = None
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    result: Any = None
    error: str | None = None
    #: Set when a pause was asked for but the task has not reached a checkpoint yet.
    pause_requested: bool = False
    #: Set by a self-healing retry or a mission step: what this task was started for.
    parent: str | None = None

    def move(self, to: TaskState, **changes: Any) -> TaskRecord:
        if to not in ALLOWED.get(self.state, frozenset()):
            raise Conflict(
                f"task {self.task_id} is {self.state.value}; it cannot become {to.value}"
            )
        now = time.time()
        if to is TaskState.RUNNING and self.started_at is None:
            changes.setdefault("started_at", now)
        if to.terminal:
            changes.setdefault("finished_at", now)
            changes.setdefault("pause_requested", False)
        return replace(self, state=to, **changes)

    def with_(self, **changes: Any) -> TaskRecord:
        return replace(self, **changes)

    @property
    def display_title(self) -> str:
        return self.title or type_title(self.task_type)

    def duration(self, now: float | None = None) -> float | None:
        if self.started_at is None:
            return None
        end = self.finished_at if self.finished_at is not None else (now or time.time())
        return end - self.started_at

    def info(self) -> dict[str, Any]:
        """The task as protocol and REST show it."""
        duration = self.duration()
        return {
            "task_id": self.task_id,
            "task_type": self.task_type,
            "title": self.display_title,
            "state": self.state.value,
            "progress": self.progress,
            "note": self.note,
            "params": self.params,
            "created_at": iso_utc_ts(self.created_at),
            "started_at": iso_utc_ts(self.started_at) if self.started_at else None,
            "finished_at": iso_utc_ts(self.finished_at) if self.finished_at else None,
            "duration_seconds": round(duration, 3) if duration is not None else None,
            "running_for": humanize(duration) if duration is not None else None,
            "pause_requested": self.pause_requested,
            "result": self.result,
            "error": self.error,
        }
