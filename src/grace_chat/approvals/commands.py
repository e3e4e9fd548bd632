"""``approve`` and ``reject`` over the protocol."""

from __future__ import annotations

from typing import Any

from grace_chat.approvals.gateway import ActionGateway
from grace_chat.commands import CommandContext, CommandRouter
from grace_chat.protocol import Approve, Reject


def register_approval_commands(router: CommandRouter, gateway: ActionGateway) -> None:
    async def decide(ctx: CommandContext, cmd: Approve | Reject) -> dict[str, Any]:
        approval, changed = await gateway.decide(
            cmd.approval_id, ctx.identity, isinstance(cmd, Approve), cmd.reason, ctx.channel
        )
        return {"type": "approval", "approval": approval.info(), "decided": changed}

    router.register("approve", decide)
    router.register("reject", decide)
