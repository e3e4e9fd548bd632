"""Mission control: runs a mission's steps one after another through the task runner.

Reports 🚀 "Mission <id> started", ✅ "Mission <id> completed" or ❌ "Mission <id> failed: …"
(AGENT_ACTION events, worded by the notification rules). A failed step ends the mission unless
self-heal has a playbook for it that makes the step succeed (a retry). Missions can be listed,
paused (the current step is paused and the next does not start), resumed and cancelled.
"""

import asyncio
import contextlib
import re
import uuid
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from grace.api.deps import caller_dependency
from grace.auth import Identity
from grace.errors import BadRequest, Conflict, Forbidden, GraceError, NotFound
from grace.events import Event, EventType
from grace.missions.model import Mission, MissionState, Step, missions_from_config, parse_steps
from grace.tasks.model import TaskState

if TYPE_CHECKING:
    from grace.app import Grace
    from grace.selfheal.component import SelfHeal

_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


class StartMission(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(min_length=1, max_length=64)]
    steps: list[dict[str, Any]] | None = None
    mission_id: Annotated[str, Field(min_length=1, max_length=128)] | None = None


class MissionControl:
    name = "missions"

    def __init__(self, grace: "Grace", healer: "SelfHeal | None" = None) -> None:
        self.grace = grace
        self.healer = healer
        self.store = grace.stores.missions
        self.catalog = missions_from_config(grace.settings.section("missions"))
        self._runs: dict[str, asyncio.Task[None]] = {}
        self._missions: dict[str, Mission] = {}
        self._resumed: dict[str, asyncio.Event] = {}
        grace.status_board.add("missions", self._status)

    async def start(self) -> None:
        await self.store.open()
        for mission in await self.store.interrupt_active():
            await self._say(
                "mission_failed",
                mission,
                f"Mission {mission.mission_id} was interrupted: the server stopped",
            )

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
            self.grace.tasks.types.get(step.task_type)  # unknown task types fail now
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
        mission = await self.get(mission_id, caller)
        await self._set(mission.move(MissionState.PAUSED))
        self._resumed[mission_id].clear()
        with contextlib.suppress(GraceError):
            await self.grace.tasks.pause(mission.task_ids[-1], caller)
        return self._missions[mission_id]

    async def resume(self, mission_id: str, caller: Identity) -> Mission:
        mission = await self.get(mission_id, caller)
        await self._set(mission.move(MissionState.RUNNING))
        self._resumed[mission_id].set()
        with contextlib.suppress(GraceError):
            await self.grace.tasks.resume(mission.task_ids[-1], caller)
        return self._missions[mission_id]

    async def cancel(self, mission_id: str, caller: Identity) -> Mission:
        mission = await self.get(mission_id, caller)
        await self._set(mission.move(MissionState.CANCELLED))
        self._resumed[mission_id].set()
        if mission.task_ids:
            with contextlib.suppress(GraceError):
                await self.grace.tasks.cancel(mission.task_ids[-1], caller)
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
        tasks = self.grace.tasks
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
        await self.grace.event_bus.publish(
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

    async def _status(self, caller: Identity) -> tuple[dict[str, Any], str | None]:
        missions = await self.list_missions(caller)
        active = [m.info() for m in missions if m.state.active]
        if not active:
            return {"active": [], "recent": [m.info() for m in missions[:5]]}, None
        names = ", ".join(
            f"{m['mission_id']} (step {m['current_step'] + 1}/{len(m['steps'])})"
            for m in active[:3]
        )
        return {"active": active, "recent": []}, f"Missions in progress: {names}."

    # -- REST ---------------------------------------------------------------------------------

    def routes(self) -> APIRouter:
        router = APIRouter(tags=["missions"])
        Caller = Annotated[Identity, Depends(caller_dependency(self.grace))]

        @router.get("/api/missions")
        async def list_missions(caller: Caller) -> dict[str, Any]:
            return {
                "missions": [m.info() for m in await self.list_missions(caller)],
                "catalog": sorted(self.catalog),
            }

        @router.post("/api/missions", status_code=201)
        async def start(body: StartMission, caller: Caller) -> dict[str, Any]:
            steps = parse_steps(body.steps, "steps") if body.steps is not None else None
            mission = await self.start_mission(caller.user_id, body.name, steps, body.mission_id)
            return mission.info()

        @router.get("/api/missions/{mission_id}")
        async def get(mission_id: str, caller: Caller) -> dict[str, Any]:
            return (await self.get(mission_id, caller)).info()

        @router.post("/api/missions/{mission_id}/{action}")
        async def control(
            mission_id: str, action: Literal["pause", "resume", "cancel"], caller: Caller
        ) -> dict[str, Any]:
            operation = {"pause": self.pause, "resume": self.resume, "cancel": self.cancel}
            return (await operation[action](mission_id, caller)).info()

        return router


def install(grace: "Grace", healer: "SelfHeal | None" = None) -> MissionControl:
    component = MissionControl(grace, healer)
    grace.add_component(component)
    return component
