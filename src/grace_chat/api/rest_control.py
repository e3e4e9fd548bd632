"""REST for the control plane: tasks, approvals, the audit log and status.

Every route that acts (start, cancel, pause, resume, logs, approve, reject, status) is a protocol
command dispatched through the same ``CommandRouter`` as the WebSocket and the chat, so a command
has one authorization path whatever the door: a caller sees and acts on their own tasks and
approvals only (admins on all). Reads without a command (one task, the approvals, the audit log)
ask the system directly, with the same rule.
"""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from grace_chat.api.deps import CallerDependency, admin_dependency
from grace_chat.approvals.gateway import ActionGateway
from grace_chat.approvals.model import MAX_WAIT_SECONDS, ApprovalState
from grace_chat.auth import Identity
from grace_chat.commands import CommandContext, CommandRouter
from grace_chat.frames import ApprovalInfo, LogLine, StatusFrame, TaskInfo
from grace_chat.protocol import (
    Approve,
    CancelTask,
    Command,
    ListTasks,
    PauseTask,
    Reject,
    ResumeTask,
    StartTask,
    Status,
)
from grace_chat.protocol import TaskLogs as TaskLogsCommand
from grace_chat.tasks.runner import TaskRunner


class TaskList(BaseModel):
    tasks: list[TaskInfo]
    active: int


class StartTaskBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    task_type: Annotated[str, Field(min_length=1, max_length=64)]
    params: dict[str, Any] = Field(default_factory=dict)
    task_id: Annotated[str, Field(min_length=1, max_length=128)] | None = None


class TaskLogs(BaseModel):
    task_id: str
    lines: list[LogLine]


class ApprovalList(BaseModel):
    approvals: list[ApprovalInfo]


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, Field(max_length=2000)] | None = None


class Decided(BaseModel):
    approval: ApprovalInfo
    decided: bool = Field(description="false when an earlier decision already stood")


#: The longest ``wait`` ``POST /api/approvals`` holds a request open for (five minutes: proxies
#: and HTTP clients give up on longer ones; longer waits poll ``GET /api/approvals/{id}``).
MAX_REQUEST_WAIT_SECONDS = 300.0


class RequestActionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action_type: Annotated[str, Field(min_length=1, max_length=128)]
    agent: Annotated[str, Field(min_length=1, max_length=128)]
    params: dict[str, Any] = Field(default_factory=dict)
    trace_id: Annotated[str, Field(max_length=128)] | None = None
    user_id: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    message: Annotated[str, Field(max_length=2000)] | None = None
    expires_in: (
        Annotated[
            float,
            Field(
                gt=0,
                le=MAX_WAIT_SECONDS,
                allow_inf_nan=False,
                description="seconds until the approval expires; at most 30 days",
            ),
        ]
        | None
    ) = None
    wait: (
        Annotated[
            float,
            Field(
                ge=0,
                le=MAX_REQUEST_WAIT_SECONDS,
                allow_inf_nan=False,
                description="seconds to hold the answer until the approval is decided or "
                f"expires; at most {MAX_REQUEST_WAIT_SECONDS:g} (default 0: answer at once)",
            ),
        ]
        | None
    ) = None


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


def build_control_router(
    commands: CommandRouter,
    runner: TaskRunner,
    gateway: ActionGateway,
    caller: CallerDependency,
) -> APIRouter:
    router = APIRouter()
    Caller = Annotated[Identity, Depends(caller)]
    Admin = Annotated[Identity, Depends(admin_dependency(caller))]

    async def run(who: Identity, command: Command) -> dict[str, Any]:
        return await commands.dispatch(CommandContext(identity=who, channel="rest"), command)

    @router.get("/api/tasks", response_model=TaskList, tags=["tasks"])
    async def list_tasks(who: Caller, include_finished: bool = True) -> dict[str, Any]:
        return await run(who, ListTasks(type="list_tasks", include_finished=include_finished))

    @router.post("/api/tasks", response_model=TaskInfo, status_code=201, tags=["tasks"])
    async def start_task(who: Caller, body: StartTaskBody) -> dict[str, Any]:
        command = StartTask(
            type="start_task", task_type=body.task_type, params=body.params, task_id=body.task_id
        )
        task: dict[str, Any] = (await run(who, command))["task"]
        return task

    @router.get("/api/tasks/{task_id}", response_model=TaskInfo, tags=["tasks"])
    async def get_task(task_id: str, who: Caller) -> dict[str, Any]:
        return (await runner.get(task_id, who)).info()

    # One route per action (not ``/api/tasks/{task_id}/{action}``): a path parameter would also
    # match ``/api/tasks/{task_id}/logs``, answering its other methods 422 instead of 405.
    controls: dict[str, type[Command]] = {
        "cancel": CancelTask,
        "pause": PauseTask,
        "resume": ResumeTask,
    }

    def control(action: str, model: type[Command]) -> Callable[..., Awaitable[dict[str, Any]]]:
        async def control_task(task_id: str, who: Caller) -> dict[str, Any]:
            command = model.model_validate({"type": f"{action}_task", "task_id": task_id})
            task: dict[str, Any] = (await run(who, command))["task"]
            return task

        return control_task

    for action, model in controls.items():
        router.add_api_route(
            f"/api/tasks/{{task_id}}/{action}",
            control(action, model),
            methods=["POST"],
            response_model=TaskInfo,
            tags=["tasks"],
            name=f"{action}_task",
            summary=f"{action.capitalize()} a task",
        )

    @router.get("/api/tasks/{task_id}/logs", response_model=TaskLogs, tags=["tasks"])
    async def task_logs(
        task_id: str, who: Caller, limit: Annotated[int, Query(ge=1, le=5000)] = 200
    ) -> dict[str, Any]:
        command = TaskLogsCommand.model_validate(
            {"type": "task_logs", "task_id": task_id, "limit": limit}
        )
        return await run(who, command)

    @router.get("/api/approvals", response_model=ApprovalList, tags=["approvals"])
    async def list_approvals(who: Caller, state: ApprovalState | None = None) -> dict[str, Any]:
        return {"approvals": [a.info() for a in await gateway.list_approvals(who, state)]}

    @router.post(
        "/api/approvals",
        response_model=RequestOutcome,
        status_code=201,
        tags=["approvals"],
        summary="Ask for an action through the gateway (backend services; admin token)",
        description="The policy answers at once (`allowed`, `denied`) or the approval is stored "
        "`pending` and its person notified. With `wait` (seconds, at most "
        f"{MAX_REQUEST_WAIT_SECONDS:g}) the answer waits for the decision: `approved`, "
        "`rejected` or `expired` as soon as it is known, still `pending` when `wait` ran out.",
    )
    async def request_action(body: RequestActionBody, who: Admin) -> dict[str, Any]:
        return await gateway.request_action(
            body.action_type,
            body.agent,
            body.params,
            body.trace_id,
            user_id=body.user_id,
            message=body.message,
            wait=body.wait,
            expires_in=body.expires_in,
        )

    @router.get("/api/approvals/{approval_id}", response_model=ApprovalInfo, tags=["approvals"])
    async def get_approval(approval_id: str, who: Caller) -> dict[str, Any]:
        return (await gateway.get(approval_id, who)).info()

    @router.post(
        "/api/approvals/{approval_id}/{decision}", response_model=Decided, tags=["approvals"]
    )
    async def decide(
        approval_id: str,
        decision: Literal["approve", "reject"],
        who: Caller,
        body: Decision | None = None,
    ) -> dict[str, Any]:
        model: type[Command] = Approve if decision == "approve" else Reject
        command = model.model_validate(
            {"type": decision, "approval_id": approval_id, "reason": body.reason if body else None}
        )
        return await run(who, command)

    @router.get("/api/audit", response_model=AuditList, tags=["approvals"])
    async def audit(who: Caller, approval_id: str | None = None) -> dict[str, Any]:
        entries = await gateway.audit_log(who, approval_id)
        return {"entries": [e.info() for e in entries]}

    @router.get(
        "/api/status",
        response_model=StatusFrame,
        response_model_exclude_unset=True,
        tags=["status"],
        summary="What is Grace doing?",
    )
    async def status(who: Caller) -> dict[str, Any]:
        return await run(who, Status(type="status"))

    return router
