"""Missions: a named, ordered list of task steps, run one after another.

``running ⇄ paused``, ``running|paused → cancelled``; ``running → completed | failed``; a mission
a dead process left running is ``interrupted``. Steps come from ``[missions.NAME]`` in grace.toml
(``steps = [{task_type = "build"}, {task_type = "deployment", params = {version = "2.1"}}]``) or
from the API.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Protocol

import orjson

from grace_chat.errors import BadRequest, ConfigError, Conflict
from grace_chat.notifications.model import iso_utc_ts
from grace_chat.records import Row


class MissionState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"

    @property
    def active(self) -> bool:
        return self in (MissionState.RUNNING, MissionState.PAUSED)


_M = MissionState
ALLOWED = {
    _M.RUNNING: frozenset({_M.PAUSED, _M.COMPLETED, _M.FAILED, _M.CANCELLED, _M.INTERRUPTED}),
    _M.PAUSED: frozenset({_M.RUNNING, _M.CANCELLED, _M.INTERRUPTED, _M.FAILED}),
}


@dataclass(frozen=True, slots=True)
class Step:
    task_type: str
    params: dict[str, Any] = field(default_factory=dict)
    title: str | None = None

    def info(self) -> dict[str, Any]:
        return {"task_type": self.task_type, "params": self.params, "title": self.title}


def parse_steps(raw: Any, where: str) -> tuple[Step, ...]:
    if not isinstance(raw, list) or not raw:
        raise BadRequest(f"{where}: steps must be a non-empty list")
    steps = []
    for item in raw:
        if not isinstance(item, Mapping) or not isinstance(item.get("task_type"), str):
            raise BadRequest(f"{where}: every step needs a task_type")
        params = item.get("params", {})
        if not isinstance(params, Mapping):
            raise BadRequest(f"{where}: step params must be a table")
        steps.append(Step(item["task_type"], dict(params), item.get("title")))
    return tuple(steps)


def missions_from_config(table: Mapping[str, Any]) -> dict[str, tuple[Step, ...]]:
    try:
        return {
            name: parse_steps(dict(body).get("steps"), f"[missions.{name}]")
            for name, body in table.items()
        }
    except BadRequest as exc:
        raise ConfigError(exc.message) from None


@dataclass(frozen=True, slots=True)
class Mission:
    mission_id: str
    name: str
    user_id: str
    steps: tuple[Step, ...]
    state: MissionState = MissionState.RUNNING
    current: int = 0
    task_ids: tuple[str, ...] = ()
    created_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    error: str | None = None

    def move(self, to: MissionState, **changes: Any) -> Mission:
        if to not in ALLOWED.get(self.state, frozenset()):
            raise Conflict(f"mission {self.mission_id} is {self.state.value}; not {to.value}")
        if not to.active:
            changes.setdefault("finished_at", time.time())
        return replace(self, state=to, **changes)

    def with_(self, **changes: Any) -> Mission:
        return replace(self, **changes)

    def info(self) -> dict[str, Any]:
        return {
            "mission_id": self.mission_id,
            "name": self.name,
            "state": self.state.value,
            "current_step": self.current,
            "steps": [s.info() for s in self.steps],
            "task_ids": list(self.task_ids),
            "created_at": iso_utc_ts(self.created_at),
            "finished_at": iso_utc_ts(self.finished_at) if self.finished_at else None,
            "error": self.error,
        }


#: Why ``interrupt_active`` stopped a mission.
STOPPED = "the server stopped"

#: The columns every engine reads a mission from, in the order ``mission_from_row`` expects.
COLUMNS = (
    "mission_id, name, user_id, steps, state, current, task_ids, created_at, finished_at, error"
)


def mission_from_row(r: Row) -> Mission:
    """A mission from a row of ``COLUMNS`` (JSON fields as bytes or text)."""
    steps = tuple(
        Step(s["task_type"], s.get("params", {}), s.get("title")) for s in orjson.loads(r[3])
    )
    return Mission(
        r[0], r[1], r[2], steps, MissionState(r[4]), r[5], tuple(orjson.loads(r[6])), r[7], r[8],
        r[9],
    )  # fmt: skip


def mission_values(m: Mission) -> tuple[Any, ...]:
    """The values of ``COLUMNS`` for a mission, in order."""
    return (
        m.mission_id, m.name, m.user_id, orjson.dumps([s.info() for s in m.steps]),
        m.state.value, m.current, orjson.dumps(list(m.task_ids)), m.created_at, m.finished_at,
        m.error,
    )  # fmt: skip


class MissionStore(Protocol):
    """Guarantees: ``save`` replaces the record atomically; ``interrupt_active`` marks every
    mission that was running or paused ``interrupted`` and returns them (start-up only)."""

    async def open(self) -> None: ...

    async def save(self, mission: Mission) -> None: ...

    async def get(self, mission_id: str) -> Mission | None: ...

    async def list_missions(self, user_id: str | None, limit: int = 50) -> list[Mission]: ...

    async def interrupt_active(self) -> list[Mission]: ...
