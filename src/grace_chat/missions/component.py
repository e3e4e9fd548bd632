"""Mission control: runs a mission's steps one after another through the task runner.

Reports 🚀 "Mission <id> started", ✅ "Mission <id> completed" or ❌ "Mission <id> failed: …"
(AGENT_ACTION events, worded by the notification rules). A failed step ends the mission unless
self-heal has a playbook for it that makes the step succeed (a retry). Missions can be listed,
paused (the current step is paused and the next does not start), resumed and cancelled.

In a cluster a mission runs in the process that started it; ``elsewhere`` (set by the
composition root, ``missions.ownership``) hands pause, resume and cancel of a mission another
process runs to that process.
"""

import asyncio
import contextlib
import re
import uuid
from collections.abc import Mapping
from typing import Any, Protocol

from grace_chat.auth import Identity
from grace_chat.errors import BadRequest, Conflict, Forbidden, GraceError, NotFound
from grace_chat.events import Event, EventBus, EventType
from grace_chat.missions.model import Mission, MissionState, MissionStore, Step
from grace_chat.tasks.model import TaskState
from grace_chat.tasks.runner import TaskRunner

#: What a mission id is made of (a caller may choose one).
MISSION_ID = r"^[A-Za-z0-9_.:-]{1,128}$"
_ID = re.compile(MISSION_ID)


class HealingOutcomes(Protocol):
    """What mission control asks self-heal: did healing make this failed step succeed after all
    (``None``: no playbook applies to it)."""

    async def outcome(self, task_id: str, timeout: float = 600.0) -> bool | None: ...


class Elsewhere(Protocol):
    """Missions other processes run: ``forward`` has the owner apply ``action`` and returns the
    mission as it is then, raises the owner's error, or answers ``None`` when no other live
    process runs it."""

    async def forward(self, action: str, mission_id: str, caller: Identity) -> Mission | None: ...


class MissionControl:
    name = "missions"

    def __init__(
        self,
        catalog: Mapping[str, tuple[Step, ...]],
        *,
        store: MissionStore,
        bus: EventBus,
        runner: TaskRunner,
        healer: HealingOutcomes | None = None,
    ) -> None:
        self.catalog = dict(catalog)
        self.store = store
        self.bus = bus
        self.runner = runner
        self.healer = healer
        self._runs: dict[str, asyncio.Task[None]] = {}
        self._missions: dict[str, Mission] = {}
        self._resumed: dict[str, asyncio.Event] = {}
        #: Missions other processes of a cluster run (``None``: this process runs every one).
        self.elsewhere: Elsewhere | None = None

    async def start(self) -> None:
        await self.store.open()
        await self.interrupt_orphans()

    async def interrupt_orphans(self) -> None:
        """Mark the missions a stopped process left running ``interrupted``; tell their users."""
        for mission in await self.store.interrupt_active():
            await self._say(
                "mission_failed",
                mission,
                f"Mission {mission.mission_id} was interrupted: the server stopped",
            )

    async def _route(self, action: str, mission: Mission, caller: Identity) -> tuple[Mission, bool]:
        """``(answer, True)`` when another process applied ``action`` (its answer), else
        ``(mission as it is now, False)`` to apply it here."""
        mission_id = mission.mission_id
        if self.elsewhere is None or mission_id in self._runs or not mission.state.active:
            return mission, False
        routed = await self.elsewhere.forward(action, mission_id, caller)
        if routed is not None:
            return routed, True
        return await self.get(mission_id, caller), False  # it ended meanwhile

    async def stop(self) -> None:
        for run in self._runs.values():
            run.cancel()
        await asyncio.gather(*self._runs.values(), return_exceptions=True)

    # -- operations ---------------------------------------------------------------------------

    async def start_mission(
        self,
        user_id: str,
        name: str,
        steps: tuple[Step, ...] | None = None,
        mission_id: str | None = None,
    ) -> Mission:
        if steps is None:
            if name not in self.catalog:
                known = ", ".join(sorted(self.catalog)) or "none"
                raise NotFound(f"no mission {name!r}; known missions: {known}")
            steps = self.catalog[name]
        for step in steps:
            self.runner.types.get(step.task_type)  # unknown task types fail now
        mission_id = mission_id or f"mission_{uuid.uuid4().hex[:8]}"
        if not _ID.match(mission_id):
            raise BadRequest("mission_id must be 1-128 letters, digits, _ . : -")
        if mission_id in self._missions or await self.store.get(mission_id) is not None:
            raise Conflict(f"a mission with id {mission_id} already exists")
        mission = Mission(mission_id, name, user_id, steps)
        await self._set(mission)
        resumed = self._resumed[mission_id] = asyncio.Event()
        resumed.set()
        self._runs[mission_id] = asyncio.get_running_loop().create_task(self._drive(mission_id))
        return mission

    async def get(self, mission_id: str, caller: Identity) -> Mission:
        mission = self._missions.get(mission_id) or await self.store.get(mission_id)
        if mission is None:
            raise NotFound(f"no mission {mission_id}")
        if mission.user_id != caller.user_id and not caller.admin:
            raise Forbidden(f"mission {mission_id} belongs to another user")
        return mission

    async def list_missions(self, caller: Identity) -> list[Mission]:
        stored = await self.store.list_missions(None if caller.admin else caller.user_id)
        return [self._missions.get(m.mission_id, m) for m in stored]

    async def pause(self, mission_id: str, caller: Identity) -> Mission:
        mission, done = await self._route("pause", await self.get(mission_id, caller), caller)
        if done:
            return mission
        await self._set(mission.move(MissionState.PAUSED))
        self._resumed[mission_id].clear()
        with contextlib.suppress(GraceError):
            await self.runner.pause(mission.task_ids[-1], caller)
        return self._missions[mission_id]

    async def resume(self, mission_id: str, caller: Identity) -> Mission:
        mission, done = await self._route("resume", await self.get(mission_id, caller), caller)
        if done:
            return mission
        await self._set(mission.move(MissionState.RUNNING))
        self._resumed[mission_id].set()
        with contextlib.suppress(GraceError):
            await self.runner.resume(mission.task_ids[-1], caller)
        return self._missions[mission_id]

    async def cancel(self, mission_id: str, caller: Identity) -> Mission:
        mission, done = await self._route("cancel", await self.get(mission_id, caller), caller)
        if done:
            return mission
        await self._set(mission.move(MissionState.CANCELLED))
        self._resumed[mission_id].set()
        if mission.task_ids:
            with contextlib.suppress(GraceError):
                await self.runner.cancel(mission.task_ids[-1], caller)
        await self._say("mission_failed", mission, f"Mission {mission_id} cancelled")
        return self._missions[mission_id]

    async def wait(self, mission_id: str) -> Mission:
        run = self._runs.get(mission_id)
        if run is not None:
            await asyncio.shield(run)
        mission = await self.store.get(mission_id)
        assert mission is not None
        return mission

    # -- running ------------------------------------------------------------------------------

    async def _drive(self, mission_id: str) -> None:
        tasks = self.runner
        mission = self._missions[mission_id]
        try:
            await self._say("mission_started", mission, f"Mission {mission_id} started")
            for index, step in enumerate(mission.steps):
                await self._resumed[mission_id].wait()
                if not self._missions[mission_id].state.active:
                    return
                record = await tasks.start_task(
                    user_id=mission.user_id,
                    task_type=step.task_type,
                    params=step.params,
                    title=step.title,
                    parent=mission_id,
                    task_id=f"{mission_id}.step{index + 1}",
                )
                current = self._missions[mission_id]
                await self._set(
                    current.with_(current=index, task_ids=(*current.task_ids, record.task_id))
                )
                final = await tasks.wait(record.task_id)
                if final.state is TaskState.SUCCEEDED:
                    continue
                if not self._missions[mission_id].state.active:
                    return  # cancelled while the step ran
                healed = await self.healer.outcome(final.task_id) if self.healer else None
                if healed:
                    continue
                error = f"step {index + 1} ({step.task_type}) {final.state.value}"
                if final.error:
                    error += f": {final.error}"
                failed = self._missions[mission_id].move(MissionState.FAILED, error=error)
                await self._set(failed)
                await self._say("mission_failed", failed, f"Mission {mission_id} failed: {error}")
                return
            done = self._missions[mission_id].move(
                MissionState.COMPLETED, current=len(mission.steps)
            )
            await self._set(done)
            await self._say("mission_completed", done, f"Mission {mission_id} completed")
        except asyncio.CancelledError:
            latest = self._missions.get(mission_id)
            if latest is not None and latest.state.active:
                await asyncio.shield(self._set(latest.move(MissionState.INTERRUPTED)))
            raise
        finally:
            self._runs.pop(mission_id, None)

    async def _set(self, mission: Mission) -> None:
        self._missions[mission.mission_id] = mission
        await self.store.save(mission)

    async def _say(self, action: str, mission: Mission, message: str) -> None:
        await self.bus.publish(
            Event(
                EventType.AGENT_ACTION,
                source="mission_control",
                data={
                    "action": action,
                    "user_id": mission.user_id,
                    "message": message,
                    "mission_id": mission.mission_id,
                    "name": mission.name,
                    "state": mission.state.value,
                },
            )
        )

    async def status(self, caller: Identity) -> tuple[dict[str, Any], str | None]:
        missions = await self.list_missions(caller)
        active = [m.info() for m in missions if m.state.active]
        if not active:
            return {"active": [], "recent": [m.info() for m in missions[:5]]}, None
        names = ", ".join(
            f"{m['mission_id']} (step {m['current_step'] + 1}/{len(m['steps'])})"
            for m in active[:3]
        )
        return {"active": active, "recent": []}, f"Missions in progress: {names}."
