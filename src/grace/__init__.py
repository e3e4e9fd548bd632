"""Grace: two-way notifications between an assistant's background systems and the chat."""

from grace.app import Grace
from grace.config import Settings
from grace.events import Event, EventBus, EventType
from grace.helpers import event_bus, notify_user
from grace.notifications.model import Action, Notification, Severity
from grace.notifications.types import NotificationType

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
    "event_bus",
    "notify_user",
]
__version__ = "0.1.0"
