"""Missions in a cluster: a mission runs in the process that started it (its steps are that
process's tasks), so pause, resume and cancel from another process are handed to it.

Guarantees, as for tasks (``tasks.ownership``): the owner applies the command with its own
mission control, so the answer is the one a single process gives (the mission, ``conflict``);
a mission whose process stopped answers ``conflict``; ``sweep``, run by the cluster's leader
only, marks the missions of processes that are gone ``interrupted`` and tells their users once.
"""

from __future__ import annotations

from typing import Any, Protocol

from grace_chat.auth import Identity
from grace_chat.cluster import ControlPlane, ControlRequest, Periodic
from grace_chat.errors import BadRequest, Conflict, NotFound
from grace_chat.missions.component import MissionControl
from grace_chat.missions.model import Mission

ACTIONS = ("pause", "resume", "cancel")


class MissionOwners(Protocol):
    async def owner(self, mission_id: str, timeout: float) -> tuple[int, bool] | None:
        """The process running ``mission_id`` and whether it is alive (connected, with a
        heartbeat younger than ``timeout`` seconds); ``None`` when the mission is not active."""
        ...


class MissionOwnership:
    def __init__(
        self,
        control: MissionControl,
        plane: ControlPlane,
        owners: MissionOwners,
        *,
        owner_timeout: float = 15.0,
        sweep_interval: float = 2.0,
    ) -> None:
        self.control = control
        self.plane = plane
        self.owners = owners
        self.owner_timeout = owner_timeout
        self.sweep_interval = sweep_interval
        for action in ACTIONS:
            plane.serve(f"mission.{action}", self._apply)

    async def forward(self, action: str, mission_id: str, caller: Identity) -> Mission | None:
        found = await self.owners.owner(mission_id, self.owner_timeout)
        if found is None or found[0] == self.plane.instance:
            return None
        owner, alive = found
        if not alive:
            raise Conflict(
                f"mission {mission_id} ran in a process that stopped; it is being marked "
                "interrupted"
            )
        await self.plane.forward(owner, f"mission.{action}", mission_id, caller)
        mission = await self.control.store.get(mission_id)
        if mission is None:
            raise NotFound(f"no mission {mission_id}")
        return mission

    async def _apply(self, request: ControlRequest) -> dict[str, Any]:
        action = request.kind.removeprefix("mission.")
        if action not in ACTIONS:
            raise BadRequest(f"unknown mission action {action!r}")
        mission = await getattr(self.control, action)(request.target, request.caller)
        return {"mission_id": mission.mission_id, "state": mission.state.value}

    def sweeper(self) -> Periodic:
        """The leader's sweep of missions whose process is gone."""
        return Periodic("mission sweep", self.control.interrupt_orphans, self.sweep_interval)
