"""REST for mission control: list, start, follow, pause, resume and cancel missions (the
caller's own; an admin's: everyone's)."""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from grace_chat.api.deps import CallerDependency
from grace_chat.auth import Identity
from grace_chat.missions.component import MISSION_ID, MissionControl
from grace_chat.missions.model import parse_steps


class StepBody(BaseModel):
    """One step of a mission given in the request: a task of a known type and its parameters."""

    model_config = ConfigDict(extra="forbid")
    task_type: Annotated[str, Field(min_length=1)]
    params: dict[str, Any] = Field(default_factory=dict)
    title: str | None = None


class StartMission(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(min_length=1, max_length=64)]
    steps: (
        Annotated[
            list[StepBody],
            Field(min_length=1, description="the steps; default: the named mission's"),
        ]
        | None
    ) = None
    mission_id: Annotated[str, Field(pattern=MISSION_ID)] | None = None


class MissionStep(BaseModel):
    task_type: str
    params: dict[str, Any]
    title: str | None


class Mission(BaseModel):
    mission_id: str
    name: str
    state: str
    current_step: int
    steps: list[MissionStep]
    task_ids: list[str]
    created_at: str
    finished_at: str | None
    error: str | None


class MissionList(BaseModel):
    missions: list[Mission]
    catalog: list[str] = Field(description="the missions this server knows by name")


def build_mission_router(missions: MissionControl, caller: CallerDependency) -> APIRouter:
    router = APIRouter(tags=["missions"])
    Caller = Annotated[Identity, Depends(caller)]

    @router.get("/api/missions", response_model=MissionList)
    async def list_missions(who: Caller) -> dict[str, Any]:
        return {
            "missions": [m.info() for m in await missions.list_missions(who)],
            "catalog": sorted(missions.catalog),
        }

    @router.post("/api/missions", status_code=201, response_model=Mission)
    async def start(body: StartMission, who: Caller) -> dict[str, Any]:
        steps = None
        if body.steps is not None:
            steps = parse_steps([step.model_dump() for step in body.steps], "steps")
        mission = await missions.start_mission(who.user_id, body.name, steps, body.mission_id)
        return mission.info()

    @router.get("/api/missions/{mission_id}", response_model=Mission)
    async def get(mission_id: str, who: Caller) -> dict[str, Any]:
        return (await missions.get(mission_id, who)).info()

    @router.post("/api/missions/{mission_id}/{action}", response_model=Mission)
    async def control(
        mission_id: str, action: Literal["pause", "resume", "cancel"], who: Caller
    ) -> dict[str, Any]:
        operation = {"pause": missions.pause, "resume": missions.resume, "cancel": missions.cancel}
        return (await operation[action](mission_id, who)).info()

    return router
