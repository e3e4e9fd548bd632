"""Grace: two-way notifications between an assistant's background systems and the chat."""

from grace.app import Grace
from grace.config import Settings
from grace.events import Event, EventBus, EventType
from grace.helpers import action_gateway, event_bus, notify_user, start_background_task
from grace.notifications.model import Action, Notification, Severity
from grace.notifications.types import NotificationType
from grace.tasks.context import TaskCancelled, TaskContext, TaskFailed

__all__ = [
    "Action",
    "Event",
    "EventBus",
    "EventType",
    "Grace",
    "Notification",
    "NotificationType",
    "Settings",
    "Severity",
    "TaskCancelled",
    "TaskContext",
    "TaskFailed",
    "action_gateway",
    "event_bus",
    "notify_user",
    "start_background_task",
]
__version__ = "0.1.0"
