"""Tasks in a cluster: who runs each, commands for another process's tasks, and what a dead
process leaves behind.

Built beside the runner by the composition root when the stores are shared (PostgreSQL).
Guarantees:

* ``forward`` (the runner's ``elsewhere``) hands ``pause``, ``resume`` and ``cancel`` of a task
  another live process runs to that process, which applies it with its own runner: the same
  checks and state moves as on one process, so the answer (the task, or ``conflict``) is the
  one a single process would give. The reply means the owner applied it and saved the result;
  the task returned is the owner's record as it answered.
* A task whose process stopped answers ``conflict`` (it is about to become ``interrupted``).
* ``heartbeat`` moves the heartbeat of this process's active tasks; ``sweep``, run by the
  cluster's leader only (``sweeper``), interrupts the active tasks whose process is gone or
  whose heartbeat is older than ``owner_timeout`` seconds, and tells each task's user with the
  usual ``task_interrupted`` event. A process that starts never interrupts another live
  process's tasks.
"""

from __future__ import annotations

from typing import Any, Protocol

from grace_chat.auth import Identity
from grace_chat.cluster import ControlPlane, ControlRequest, Periodic
from grace_chat.errors import BadRequest, Conflict
from grace_chat.events import EventBus, EventType
from grace_chat.tasks.model import TaskRecord, TaskState
from grace_chat.tasks.runner import TaskRunner, task_event

ACTIONS = ("pause", "resume", "cancel")


class TaskOwners(Protocol):
    """What a shared task store tells and does about the processes running tasks."""

    async def owner(self, task_id: str, timeout: float) -> tuple[int, bool] | None:
        """The process running ``task_id`` and whether it is alive (connected, with a heartbeat
        younger than ``timeout`` seconds); ``None`` when the task is not active."""
        ...

    async def heartbeat(self, instance: int) -> None: ...

    async def interrupt_orphans(self, timeout: float) -> list[TaskRecord]: ...


class TaskOwnership:
    def __init__(
        self,
        runner: TaskRunner,
        plane: ControlPlane,
        owners: TaskOwners,
        bus: EventBus,
        *,
        owner_timeout: float = 15.0,
        sweep_interval: float = 2.0,
    ) -> None:
        self.runner = runner
        self.plane = plane
        self.owners = owners
        self.bus = bus
        self.owner_timeout = owner_timeout
        self.sweep_interval = sweep_interval
        for action in ACTIONS:
            plane.serve(f"task.{action}", self._apply)

    async def forward(self, action: str, task_id: str, caller: Identity) -> TaskRecord | None:
        found = await self.owners.owner(task_id, self.owner_timeout)
        if found is None or found[0] == self.plane.instance:
            return None
        owner, alive = found
        if not alive:
            raise Conflict(
                f"task {task_id} ran in a process that stopped; it is being marked interrupted"
            )
        reply = await self.plane.forward(owner, f"task.{action}", task_id, caller)
        fields = dict(reply["task"])
        return TaskRecord(**{**fields, "state": TaskState(fields["state"])})

    async def _apply(self, request: ControlRequest) -> dict[str, Any]:
        action = request.kind.removeprefix("task.")
        if action not in ACTIONS:
            raise BadRequest(f"unknown task action {action!r}")
        record: TaskRecord = await getattr(self.runner, action)(request.target, request.caller)
        return {"task": _jsonable(record)}

    async def heartbeat(self) -> None:
        await self.owners.heartbeat(self.plane.instance)

    async def sweep(self) -> list[TaskRecord]:
        orphans = await self.owners.interrupt_orphans(self.owner_timeout)
        for record in orphans:
            await self.bus.publish(task_event(EventType.TASK_INTERRUPTED, record))
        return orphans

    def sweeper(self) -> Periodic:
        """The leader's sweep, every ``sweep_interval`` seconds."""
        return Periodic("task sweep", self.sweep, self.sweep_interval)


def _jsonable(record: TaskRecord) -> dict[str, Any]:
    """Every field of ``record`` as JSON values (the runner keeps params and results JSON)."""
    fields = {name: getattr(record, name) for name in TaskRecord.__dataclass_fields__}
    fields["state"] = record.state.value
    return fields
