"""The registry of notification types: each type's badge, severity, title and card actions.

Guarantees: every type from the original design is registered by ``default_types()``; a type name
is a short lowercase identifier that never collides with a protocol control frame; looking up an
unregistered name yields the generic 🤖 type instead of failing, so ``notify_user`` with a new
type works as it always did, and an application can ``register`` its own types with their look.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import JsonValue

from grace_chat.errors import BadRequest, ConfigError
from grace_chat.notifications.model import Action, Severity
from grace_chat.protocol import CONTROL_FRAME_TYPES

DEFAULT_TITLE = "Grace Notification"
DEFAULT_BADGE = "🤖"
#: What a notification type's name is made of (besides not being a protocol frame type).
TYPE_NAME = r"^[a-z][a-z0-9_.-]{0,63}$"
_NAME = re.compile(TYPE_NAME)
#: What ``check_type_name`` accepts, as JSON Schema (for the API's document).
TYPE_SCHEMA: dict[str, JsonValue] = {
    "pattern": TYPE_NAME,
    "not": {"enum": list[JsonValue](sorted(CONTROL_FRAME_TYPES))},
}

VIEW_DETAILS = Action("view_details", "View Details")
APPROVE = Action("approve", "Approve")
REJECT = Action("reject", "Reject")


@dataclass(frozen=True, slots=True)
class NotificationType:
    name: str
    badge: str
    severity: Severity = Severity.INFO
    title: str = DEFAULT_TITLE
    actions: tuple[Action, ...] = ()


def check_type_name(name: str) -> str:
    if not _NAME.match(name):
        raise BadRequest(
            "notification type must be 1-64 characters of a-z, 0-9, '_', '.', '-', "
            "starting with a letter"
        )
    if name in CONTROL_FRAME_TYPES:
        raise BadRequest(f"{name!r} is a protocol frame type and cannot name a notification")
    return name


class TypeRegistry:
    def __init__(self, types: tuple[NotificationType, ...] = ()) -> None:
        self._types: dict[str, NotificationType] = {}
        for t in types:
            self.register(t)

    def register(self, kind: NotificationType) -> None:
        try:
            check_type_name(kind.name)
        except BadRequest as exc:
            raise ConfigError(exc.message) from None
        self._types[kind.name] = kind

    def get(self, name: str) -> NotificationType:
        found = self._types.get(name)
        if found is not None:
            return found
        check_type_name(name)
        return NotificationType(name, DEFAULT_BADGE)

    def __contains__(self, name: object) -> bool:
        return name in self._types

    def all(self) -> list[NotificationType]:
        return sorted(self._types.values(), key=lambda t: t.name)


def default_types() -> TypeRegistry:
    S = Severity
    return TypeRegistry(
        (
            NotificationType("task_started", "🚀", S.INFO),
            NotificationType("task_progress", "🔄", S.INFO),
            NotificationType("task_completed", "✅", S.SUCCESS),
            NotificationType("task_failed", "❌", S.ERROR),
            NotificationType("task_cancelled", "⚠️", S.WARNING),
            NotificationType("task_paused", "⏸️", S.INFO),
            NotificationType("task_resumed", "▶️", S.INFO),
            NotificationType("task_interrupted", "⚠️", S.WARNING),
            NotificationType(
                "approval_needed", "⚠️", S.WARNING, actions=(VIEW_DETAILS, APPROVE, REJECT)
            ),
            NotificationType("action_approved", "✅", S.SUCCESS),
            NotificationType("action_rejected", "🚫", S.WARNING),
            NotificationType("approval_expired", "⌛", S.WARNING),
            NotificationType("action_executed", "✅", S.SUCCESS),
            NotificationType("error_detected", "❌", S.ERROR),
            NotificationType("issue_resolved", "✅", S.SUCCESS),
            NotificationType("healing_triggered", "🔧", S.WARNING),
            NotificationType("healing_completed", "✅", S.SUCCESS),
            NotificationType("healing_failed", "❌", S.ERROR),
            NotificationType("learning_complete", "🧠", S.SUCCESS),
            NotificationType("learning_failed", "❌", S.ERROR),
            NotificationType("learning_paused", "⏸️", S.INFO),
            NotificationType("learning_resumed", "▶️", S.INFO),
            NotificationType("mission_started", "🚀", S.INFO),
            NotificationType("mission_completed", "✅", S.SUCCESS),
            NotificationType("mission_failed", "❌", S.ERROR),
            NotificationType("test", "🧪", S.INFO),
        )
    )
