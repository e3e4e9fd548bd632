"""Wording of task notifications, from the runner's ``TASK_*`` events.

🚀 "Deployment task started: deploy_123", ✅ "Deployment completed successfully",
❌ "Deployment failed: Connection timeout", ⚠️ "Task deploy_123 has been cancelled", and so on.
"""

from __future__ import annotations

from typing import Any

from grace_chat.events import Event, EventType
from grace_chat.notifications.rules import Rules, Spec

_KEEP = (
    "task_id",
    "task_type",
    "title",
    "state",
    "progress",
    "note",
    "duration_seconds",
    "running_for",
    "result",
    "error",
    "parent",
)


def _data(event: Event) -> dict[str, Any]:
    return {k: event.data.get(k) for k in _KEEP if event.data.get(k) is not None}


def task_rule(event: Event) -> Spec | None:
    d = event.data
    task_id, title = d.get("task_id", "?"), d.get("title") or d.get("task_type", "Task")
    kind = event.event_type
    if kind is EventType.TASK_STARTED:
        return Spec("task_started", f"{title} task started: {task_id}", data=_data(event))
    if kind is EventType.TASK_COMPLETED:
        return Spec("task_completed", f"{title} completed successfully", data=_data(event))
    if kind is EventType.TASK_FAILED:
        return Spec(
            "task_failed", f"{title} failed: {d.get('error') or 'unknown error'}", data=_data(event)
        )
    if kind is EventType.TASK_CANCELLED:
        return Spec("task_cancelled", f"Task {task_id} has been cancelled", data=_data(event))
    if kind is EventType.TASK_PAUSED:
        return Spec("task_paused", f"Task {task_id} paused", data=_data(event))
    if kind is EventType.TASK_RESUMED:
        return Spec("task_resumed", f"Task {task_id} resumed", data=_data(event))
    if kind is EventType.TASK_INTERRUPTED:
        return Spec(
            "task_interrupted",
            f"Task {task_id} was interrupted: {d.get('error') or 'the server stopped'}",
            data=_data(event),
        )
    if kind is EventType.TASK_PROGRESS:
        percent = round(float(d.get("progress") or 0.0) * 100)
        note = d.get("note")
        message = f"{title}: {percent}%" + (f" — {note}" if note else "")
        return Spec("task_progress", message, data=_data(event))
    return None


def add_task_rules(rules: Rules) -> None:
    for kind in (
        EventType.TASK_STARTED,
        EventType.TASK_COMPLETED,
        EventType.TASK_FAILED,
        EventType.TASK_CANCELLED,
        EventType.TASK_PAUSED,
        EventType.TASK_RESUMED,
        EventType.TASK_INTERRUPTED,
        EventType.TASK_PROGRESS,
    ):
        rules.add(kind, task_rule)
