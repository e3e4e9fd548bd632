"""Each user's conversation: their sentences and Grace's replies (notifications live in the
notification log and are merged in when the thread is read)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from grace_chat.errors import NotFound
from grace_chat.notifications.model import iso_utc_ts

if TYPE_CHECKING:
    from grace_chat.approvals.gateway import ActionGateway
    from grace_chat.auth import Identity
    from grace_chat.notifications.model import Notification


@dataclass(frozen=True, slots=True)
class ChatMessage:
    user_id: str
    role: str  # "user" or "grace"
    text: str
    #: A reply's ``{"intent": ..., "data": ...}``.
    data: dict[str, Any] = field(default_factory=dict)
    at: float = field(default_factory=time.time)

    def info(self) -> dict[str, Any]:
        """The message as the chat's history shows it; a reply carries the ``intent`` and
        ``data`` it was given, so a client draws it after a reload as it drew it live."""
        data = self.data.get("data")
        return {
            "kind": "message",
            "role": self.role,
            "text": self.text,
            "intent": self.data.get("intent"),
            "data": data if isinstance(data, dict) else {},
            "timestamp": iso_utc_ts(self.at),
        }


class ChatHistory(Protocol):
    """Guarantees: ``latest`` returns only that user's messages, oldest first."""

    async def open(self) -> None: ...

    async def add(self, message: ChatMessage) -> None: ...

    async def latest(self, user_id: str, limit: int) -> list[ChatMessage]: ...


async def thread(
    messages: list[ChatMessage],
    notes: list[Notification],
    gateway: ActionGateway,
    caller: Identity,
    limit: int,
) -> list[dict[str, Any]]:
    """Messages and notifications by time, approval cards with their current state."""
    cards: list[dict[str, Any]] = []
    for n in reversed(notes):
        item: dict[str, Any] = {"kind": "notification", "timestamp": n.timestamp,
                                "notification": n.frame()}  # fmt: skip
        approval_id = n.data.get("approval_id")
        if n.type == "approval_needed" and isinstance(approval_id, str):
            try:
                approval = await gateway.get(approval_id, caller)
                item["approval_state"] = approval.state.value
            except NotFound:
                item["approval_state"] = "unknown"
        cards.append(item)
    merged = sorted([m.info() for m in messages] + cards, key=lambda item: item["timestamp"])
    return merged[-limit:]
