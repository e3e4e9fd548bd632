"""``pause_learning`` and ``resume_learning`` over the protocol, for every door."""

from __future__ import annotations

from typing import Any

from grace.commands import CommandContext, CommandRouter
from grace.learning.supervisor import LearningSupervisor
from grace.protocol import PauseLearning, ResumeLearning


def register_learning_commands(router: CommandRouter, supervisor: LearningSupervisor) -> None:
    async def pause(ctx: CommandContext, cmd: PauseLearning) -> dict[str, Any]:
        changed = await supervisor.pause(ctx.identity.user_id)
        return {**await supervisor.frame(), "changed": changed}

    async def resume(ctx: CommandContext, cmd: ResumeLearning) -> dict[str, Any]:
        changed = await supervisor.resume(ctx.identity.user_id)
        return {**await supervisor.frame(), "changed": changed}

    router.register("pause_learning", pause)
    router.register("resume_learning", resume)
