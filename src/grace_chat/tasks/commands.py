"""Task control over the protocol (``list_tasks``, ``cancel_task``, …), for every channel."""

from __future__ import annotations

from typing import Any

from grace_chat.commands import CommandContext, CommandRouter
from grace_chat.protocol import CancelTask, ListTasks, PauseTask, ResumeTask, StartTask, TaskLogs
from grace_chat.tasks.model import TaskRecord
from grace_chat.tasks.runner import TaskRunner


def task_list(records: list[TaskRecord]) -> dict[str, Any]:
    """The seed's "Background Tasks (3 active)" card data, for the protocol and REST alike."""
    return {"tasks": [r.info() for r in records], "active": sum(r.state.active for r in records)}


def register_task_commands(router: CommandRouter, runner: TaskRunner) -> None:
    async def list_tasks(ctx: CommandContext, cmd: ListTasks) -> dict[str, Any]:
        records = await runner.list_tasks(ctx.identity, include_finished=cmd.include_finished)
        return {"type": "task_list", **task_list(records)}

    async def cancel(ctx: CommandContext, cmd: CancelTask) -> dict[str, Any]:
        return {"type": "task", "task": (await runner.cancel(cmd.task_id, ctx.identity)).info()}

    async def pause(ctx: CommandContext, cmd: PauseTask) -> dict[str, Any]:
        return {"type": "task", "task": (await runner.pause(cmd.task_id, ctx.identity)).info()}

    async def resume(ctx: CommandContext, cmd: ResumeTask) -> dict[str, Any]:
        return {"type": "task", "task": (await runner.resume(cmd.task_id, ctx.identity)).info()}

    async def logs(ctx: CommandContext, cmd: TaskLogs) -> dict[str, Any]:
        lines = await runner.logs(cmd.task_id, ctx.identity, cmd.limit)
        return {"type": "task_logs", "task_id": cmd.task_id, "lines": lines}

    async def start(ctx: CommandContext, cmd: StartTask) -> dict[str, Any]:
        record = await runner.start_task(
            user_id=ctx.identity.user_id,
            task_type=cmd.task_type,
            params=cmd.params,
            task_id=cmd.task_id,
        )
        return {"type": "task", "task": record.info()}

    router.register("list_tasks", list_tasks)
    router.register("cancel_task", cancel)
    router.register("pause_task", pause)
    router.register("resume_task", resume)
    router.register("task_logs", logs)
    router.register("start_task", start)
