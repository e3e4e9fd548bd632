"""The approval gateway's section of "What is Grace doing?": what waits for the caller."""

from __future__ import annotations

from typing import Any

from grace_chat.approvals.gateway import ActionGateway
from grace_chat.approvals.model import ApprovalState
from grace_chat.auth import Identity
from grace_chat.status import Provider, listed


def approval_status(gateway: ActionGateway) -> Provider:
    async def provider(caller: Identity) -> tuple[dict[str, Any], str | None]:
        pending = await gateway.list_approvals(caller, ApprovalState.PENDING)
        items = [a.info() for a in pending]
        if not items:
            return {"pending": []}, "Nothing is waiting for your approval."
        noun = "approval is" if len(items) == 1 else "approvals are"
        actions = listed([a["action_type"] for a in items])
        return {"pending": items}, f"{len(items)} {noun} waiting for you: {actions}."

    return provider
