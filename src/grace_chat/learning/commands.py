"""``pause_learning`` and ``resume_learning`` over the protocol, for every door.

``scope`` (``own``, the default, or ``all``) chooses the gate: the caller's own learning, or
everyone's, which only an admin may change (the supervisor refuses anyone else: ``forbidden``).
"""

from __future__ import annotations

from typing import Any

from grace_chat.commands import CommandContext, CommandRouter
from grace_chat.learning.model import Scope
from grace_chat.learning.supervisor import LearningSupervisor
from grace_chat.protocol import PauseLearning, ResumeLearning

#: The protocol commands the learning supervisor serves.
LEARNING_COMMANDS = ("pause_learning", "resume_learning")


def register_learning_commands(router: CommandRouter, supervisor: LearningSupervisor) -> None:
    async def pause(ctx: CommandContext, cmd: PauseLearning) -> dict[str, Any]:
        scope = Scope(cmd.scope)
        changed = await supervisor.pause(ctx.identity, scope)
        return {**await supervisor.frame(ctx.identity, scope), "changed": changed}

    async def resume(ctx: CommandContext, cmd: ResumeLearning) -> dict[str, Any]:
        scope = Scope(cmd.scope)
        changed = await supervisor.resume(ctx.identity, scope)
        return {**await supervisor.frame(ctx.identity, scope), "changed": changed}

    router.register("pause_learning", pause)
    router.register("resume_learning", resume)
