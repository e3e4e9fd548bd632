"""Each user's conversation: their sentences and Grace's replies (notifications live in the
notification log and are merged in when the thread is read)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from grace.notifications.model import iso_utc_ts


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
