"""Which engine keeps the stores: ``open_stores`` picks it from the database URL."""

from __future__ import annotations

from dataclasses import dataclass

from grace.approvals.store import ApprovalStore
from grace.chat.history import ChatHistory
from grace.config import Settings
from grace.errors import ConfigError
from grace.learning.store import KnowledgeStore, LearningStore
from grace.missions.model import MissionStore
from grace.notifications.preferences import PreferenceStore
from grace.notifications.store import NotificationStore
from grace.selfheal.model import AttemptStore
from grace.tasks.store import TaskStore

__all__ = ["Stores", "open_stores"]


@dataclass(frozen=True, slots=True)
class Stores:
    """One engine's stores, each behind its system's contract. ``notifications`` opens and closes
    the shared connection; the others are opened after it (each by the part that uses it) and
    must not be used after it closes."""

    notifications: NotificationStore
    tasks: TaskStore
    approvals: ApprovalStore
    healing: AttemptStore
    missions: MissionStore
    chat: ChatHistory
    knowledge: KnowledgeStore
    learning: LearningStore
    preferences: PreferenceStore


def open_stores(settings: Settings) -> Stores:
    url = settings.resolved_database_url
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ConfigError(
            f"database URL {url!r} has no scheme (expected sqlite:///relative/path or sqlite:////absolute/path)"
        )
    if scheme == "sqlite":
        from pathlib import Path

        from grace.store.backends.sqlite_approvals import SQLiteApprovalStore
        from grace.store.backends.sqlite_chat import SQLiteChatHistory
        from grace.store.backends.sqlite_healing import SQLiteAttemptStore
        from grace.store.backends.sqlite_knowledge import SQLiteKnowledgeStore
        from grace.store.backends.sqlite_learning import SQLiteLearningStore
        from grace.store.backends.sqlite_missions import SQLiteMissionStore
        from grace.store.backends.sqlite_notifications import SQLiteNotificationLog
        from grace.store.backends.sqlite_preferences import SQLitePreferenceStore
        from grace.store.backends.sqlite_tasks import SQLiteTaskStore

        log = SQLiteNotificationLog(
            Path(rest[1:] if rest.startswith("/") else rest),
            synchronous=settings.sqlite_synchronous,
            cache_mib=settings.sqlite_cache_mib,
            retention_count=settings.retention_count,
            retention_days=settings.retention_days,
        )
        return Stores(
            log,
            SQLiteTaskStore(log.db),
            SQLiteApprovalStore(log.db),
            SQLiteAttemptStore(log.db),
            SQLiteMissionStore(log.db),
            SQLiteChatHistory(log.db),
            SQLiteKnowledgeStore(log.db),
            SQLiteLearningStore(log.db),
            SQLitePreferenceStore(log.db),
        )
    raise ConfigError(f"unsupported database URL scheme {scheme!r}; supported: sqlite")
