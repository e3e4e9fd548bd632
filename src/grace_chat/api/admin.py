"""The operator view's data: ``GET /api/admin/overview`` (admin tokens only).

What the running systems already hold, across every user: who is connected to this process (and
over which transport), the tasks that have not finished, the approvals still pending, and the
guardian's open incidents and recent history. Listings are as long as the stores answer them
(the 50 most recent unfinished tasks, the 100 most recent pending approvals); connections are
this process's (with a Redis backplane, each process counts its own). The web bundle's operator
view (``/admin``) polls it. Without a token the answer is 401; with a token that lacks the admin
claim (``grace token USER --admin`` issues one that has it), 403.
"""

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from grace_chat.api.deps import CallerDependency, admin_dependency
from grace_chat.approvals.gateway import ActionGateway
from grace_chat.approvals.model import ApprovalState
from grace_chat.auth import Identity
from grace_chat.frames import ApprovalInfo, TaskInfo
from grace_chat.guardian.component import Guardian
from grace_chat.hub.hub import Hub
from grace_chat.notifications.model import iso_utc_ts
from grace_chat.tasks.runner import TaskRunner

#: How many guardian history entries the overview carries (newest first).
HISTORY = 20


class ConnectedUser(BaseModel):
    user_id: str
    connections: int
    transports: dict[str, int] = Field(description="connections per transport (websocket, sse)")


class AdminTask(TaskInfo):
    user_id: str


class Incident(BaseModel):
    check: str
    severity: str
    message: str
    opened_at: str
    value: Any = None


class IncidentEvent(BaseModel):
    at: str
    action: str
    check: str
    severity: str
    message: str
    value: Any = None


class Overview(BaseModel):
    generated_at: str
    connections: dict[str, int] = Field(
        description="connections to this process per transport, across users"
    )
    users: list[ConnectedUser]
    tasks: list[AdminTask] = Field(description="every user's tasks that have not finished")
    approvals: list[ApprovalInfo] = Field(description="every user's pending approvals")
    guardian: bool = Field(description="whether the guardian runs in this Grace")
    incidents: list[Incident] = Field(description="the guardian's open incidents")
    history: list[IncidentEvent] = Field(description=f"the guardian's last {HISTORY} reports")


def build_admin_router(
    hub: Hub,
    tasks: TaskRunner,
    gateway: ActionGateway,
    guardian: Guardian | None,
    caller: CallerDependency,
) -> APIRouter:
    router = APIRouter(tags=["admin"])
    Admin = Annotated[Identity, Depends(admin_dependency(caller))]

    @router.get(
        "/api/admin/overview",
        response_model=Overview,
        summary="Connections, running tasks, pending approvals and incidents across users",
    )
    async def overview(admin: Admin) -> Overview:
        users = [
            ConnectedUser(user_id=user, connections=sum(counts.values()), transports=counts)
            for user, counts in sorted(hub.transports().items())
        ]
        totals: dict[str, int] = {}
        for user in users:
            for transport, count in user.transports.items():
                totals[transport] = totals.get(transport, 0) + count
        running = await tasks.list_tasks(admin, include_finished=False)
        pending = await gateway.list_approvals(admin, ApprovalState.PENDING)
        found = guardian.findings() if guardian is not None else {}
        return Overview(
            generated_at=iso_utc_ts(time.time()),
            connections=totals,
            users=users,
            tasks=[AdminTask(user_id=t.user_id, **t.info()) for t in running],
            approvals=[ApprovalInfo(**a.info()) for a in pending],
            guardian=guardian is not None,
            incidents=[Incident(**i) for i in found.get("incidents", [])],
            history=[IncidentEvent(**e) for e in found.get("history", [])[:HISTORY]],
        )

    return router
