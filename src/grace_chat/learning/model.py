"""A learning job as the supervisor keeps it, and the gates' state.

A job is ``waiting`` (submitted while its learning was paused; nothing has run) or ``started``
(handed to the task runner as a task of type ``learning`` with the same id; from then on the task
record says how it went). Waiting jobs are stored, so they survive a restart and start on resume.

There are two kinds of gate: each user's own (``Scope.OWN``: that user's jobs) and everyone's
(``Scope.ALL``: every job, the watched folder's included; only an admin changes it). A job starts
when neither its owner's gate nor everyone's is paused.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from grace_chat.notifications.model import iso_utc_ts


class GateState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"


class Scope(StrEnum):
    """Whose learning a pause or resume is about: the caller's own, or everyone's (admins)."""

    OWN = "own"
    ALL = "all"


class JobState(StrEnum):
    WAITING = "waiting"
    STARTED = "started"


@dataclass(frozen=True, slots=True)
class Gate:
    state: GateState = GateState.RUNNING
    changed_at: float | None = None
    changed_by: str | None = None

    @property
    def paused(self) -> bool:
        return self.state is GateState.PAUSED

    def info(self) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "changed_at": iso_utc_ts(self.changed_at) if self.changed_at else None,
            "changed_by": self.changed_by,
        }


@dataclass(frozen=True, slots=True)
class LearningJob:
    task_id: str
    user_id: str
    name: str
    #: The file the job reads when it runs.
    path: str
    #: ``upload``, ``path`` or ``watch``.
    origin: str
    #: Whether ``path`` is Grace's own copy (an upload), removed once the job has run.
    owned: bool = False
    state: JobState = JobState.WAITING
    submitted_at: float = field(default_factory=time.time)
    started_at: float | None = None

    def started(self) -> LearningJob:
        return replace(self, state=JobState.STARTED, started_at=time.time())

    def info(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "name": self.name,
            "origin": self.origin,
            "state": self.state.value,
            "submitted_at": iso_utc_ts(self.submitted_at),
            "started_at": iso_utc_ts(self.started_at) if self.started_at else None,
        }
