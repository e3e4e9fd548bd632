"""REST for the control plane: tasks, approvals, the audit log and status.

The same operations as the protocol commands, with the same authorization: a caller sees and
acts on their own tasks and approvals only (admins on all).
"""

from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from grace.api.deps import caller_dependency, require_admin
from grace.approvals.model import ApprovalState
from grace.auth import Identity
from grace.tasks.commands import task_list

if TYPE_CHECKING:
    from grace.app import Grace


class TaskInfo(BaseModel):
    task_id: str
    task_type: str
    title: str
    state: str
    progress: float | None
    note: str | None
    params: dict[str, Any]
    created_at: str
    started_at: str | None
    finished_at: str | None
    duration_seconds: float | None
    running_for: str | None
    pause_requested: bool
    result: Any
    error: str | None


class TaskList(BaseModel):
    tasks: list[TaskInfo]
    active: int


class StartTaskBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    task_type: Annotated[str, Field(min_length=1, max_length=64)]
    params: dict[str, Any] = Field(default_factory=dict)
    task_id: Annotated[str, Field(min_length=1, max_length=128)] | None = None


class LogLine(BaseModel):
    t: float
    line: str


class TaskLogs(BaseModel):
    task_id: str
    lines: list[LogLine]


class ApprovalInfo(BaseModel):
    approval_id: str
    user_id: str
    action_type: str
    agent: str
    params: dict[str, Any]
    trace_id: str | None
    message: str
    state: ApprovalState
    created_at: str
    expires_at: str | None
    decided_at: str | None
    decided_by: str | None
    reason: str | None


class ApprovalList(BaseModel):
    approvals: list[ApprovalInfo]


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, Field(max_length=2000)] | None = None


class Decided(BaseModel):
    approval: ApprovalInfo
    decided: bool = Field(description="false when an earlier decision already stood")


class RequestActionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action_type: Annotated[str, Field(min_length=1, max_length=128)]
    agent: Annotated[str, Field(min_length=1, max_length=128)]
    params: dict[str, Any] = Field(default_factory=dict)
    trace_id: Annotated[str, Field(max_length=128)] | None = None
    user_id: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    message: Annotated[str, Field(max_length=2000)] | None = None
    expires_in: Annotated[float, Field(gt=0)] | None = None


class RequestOutcome(BaseModel):
    approved: bool
    status: str
    approval_id: str | None
    trace_id: str | None
    reason: str | None = None


class AuditInfo(BaseModel):
    at: str
    event: str
    actor: str
    action_type: str
    agent: str
    approval_id: str | None
    params: dict[str, Any]
    trace_id: str | None
    channel: str | None
    detail: str | None


class AuditList(BaseModel):
    entries: list[AuditInfo]


def build_control_router(grace: "Grace") -> APIRouter:
    router = APIRouter()
    Caller = Annotated[Identity, Depends(caller_dependency(grace))]

    def admin(caller: Caller) -> Identity:
        return require_admin(caller)

    runner, gateway = grace.tasks, grace.action_gateway

    @router.get("/api/tasks", response_model=TaskList, tags=["tasks"])
    async def list_tasks(caller: Caller, include_finished: bool = True) -> dict[str, Any]:
        return task_list(await runner.list_tasks(caller, include_finished))

    @router.post("/api/tasks", response_model=TaskInfo, status_code=201, tags=["tasks"])
    async def start_task(caller: Caller, body: StartTaskBody) -> dict[str, Any]:
        record = await runner.start_task(
            user_id=caller.user_id,
            task_type=body.task_type,
            params=body.params,
            task_id=body.task_id,
        )
        return record.info()

    @router.get("/api/tasks/{task_id}", response_model=TaskInfo, tags=["tasks"])
    async def get_task(task_id: str, caller: Caller) -> dict[str, Any]:
        return (await runner.get(task_id, caller)).info()

    @router.post("/api/tasks/{task_id}/{action}", response_model=TaskInfo, tags=["tasks"])
    async def control_task(
        task_id: str, action: Literal["cancel", "pause", "resume"], caller: Caller
    ) -> dict[str, Any]:
        operation = {"cancel": runner.cancel, "pause": runner.pause, "resume": runner.resume}
        return (await operation[action](task_id, caller)).info()

    @router.get("/api/tasks/{task_id}/logs", response_model=TaskLogs, tags=["tasks"])
    async def task_logs(
        task_id: str, caller: Caller, limit: Annotated[int, Query(ge=1, le=5000)] = 200
    ) -> dict[str, Any]:
        return {"task_id": task_id, "lines": await runner.logs(task_id, caller, limit)}

    @router.get("/api/approvals", response_model=ApprovalList, tags=["approvals"])
    async def list_approvals(caller: Caller, state: ApprovalState | None = None) -> dict[str, Any]:
        return {"approvals": [a.info() for a in await gateway.list_approvals(caller, state)]}

    @router.post(
        "/api/approvals",
        response_model=RequestOutcome,
        status_code=201,
        tags=["approvals"],
        summary="Ask for an action through the gateway (backend services; admin token)",
    )
    async def request_action(
        body: RequestActionBody, caller: Annotated[Identity, Depends(admin)]
    ) -> dict[str, Any]:
        return await gateway.request_action(
            body.action_type,
            body.agent,
            body.params,
            body.trace_id,
            user_id=body.user_id,
            message=body.message,
            expires_in=body.expires_in,
        )

    @router.get("/api/approvals/{approval_id}", response_model=ApprovalInfo, tags=["approvals"])
    async def get_approval(approval_id: str, caller: Caller) -> dict[str, Any]:
        return (await gateway.get(approval_id, caller)).info()

    @router.post(
        "/api/approvals/{approval_id}/{decision}", response_model=Decided, tags=["approvals"]
    )
    async def decide(
        approval_id: str,
        decision: Literal["approve", "reject"],
        caller: Caller,
        body: Decision | None = None,
    ) -> dict[str, Any]:
        reason = body.reason if body else None
        approval, changed = await gateway.decide(
            approval_id, caller, decision == "approve", reason, "rest"
        )
        return {"approval": approval.info(), "decided": changed}

    @router.get("/api/audit", response_model=AuditList, tags=["approvals"])
    async def audit(caller: Caller, approval_id: str | None = None) -> dict[str, Any]:
        entries = await gateway.audit_log(caller, approval_id)
        return {"entries": [e.info() for e in entries]}

    @router.get("/api/status", tags=["status"], summary="What is Grace doing?")
    async def status(caller: Caller) -> dict[str, Any]:
        return await grace.status_board.status(caller)

    return router
