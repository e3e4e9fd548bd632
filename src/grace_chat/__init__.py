"""Grace: two-way notifications between an assistant's background systems and the chat."""

from grace_chat.app import Grace
from grace_chat.config import Settings
from grace_chat.events import Event, EventBus, EventType
from grace_chat.helpers import action_gateway, event_bus, notify_user, start_background_task
from grace_chat.notifications.model import Action, Notification, Severity
from grace_chat.notifications.types import NotificationType
from grace_chat.tasks.context import TaskCancelled, TaskContext, TaskFailed

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


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("grace-chat")
    except PackageNotFoundError:  # the source tree on sys.path, not installed
        return "0+unknown"


#: The installed distribution's version (``grace --version``).
__version__ = _version()
