"""Which engine keeps the stores: ``open_stores`` picks it from the database URL.

``sqlite:///path`` (the default: ``grace.db`` in the data directory) is the embedded engine, one
file and one process. ``postgresql://…`` (or ``postgres://…``) puts every store in that
PostgreSQL database, which several processes may share; it needs the ``postgres`` extra
(``pip install 'grace-chat[postgres]'``, the asyncpg driver).
"""

from __future__ import annotations

from dataclasses import dataclass

from grace_chat.approvals.store import ApprovalStore
from grace_chat.chat.history import ChatHistory
from grace_chat.cluster import Cluster
from grace_chat.config import Settings
from grace_chat.errors import ConfigError
from grace_chat.learning.store import KnowledgeStore, LearningStore
from grace_chat.metrics import Metrics
from grace_chat.missions.model import MissionStore
from grace_chat.missions.ownership import MissionOwners
from grace_chat.notifications.preferences import PreferenceStore
from grace_chat.notifications.store import NotificationStore
from grace_chat.selfheal.model import AttemptStore
from grace_chat.tasks.ownership import TaskOwners
from grace_chat.tasks.store import TaskStore

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
    #: Several processes on this engine's database (PostgreSQL); ``None`` on the embedded
    #: engine, where one process owns every task and mission.
    cluster: Cluster | None = None
    #: The shared engine's view of which process runs each task and mission (with ``cluster``).
    task_owners: TaskOwners | None = None
    mission_owners: MissionOwners | None = None


def open_stores(settings: Settings, metrics: Metrics | None = None) -> Stores:
    """The stores of the engine ``settings`` names; ``metrics`` counts the notification log's
    commits."""
    url = settings.resolved_database_url
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ConfigError(
            f"database URL {url!r} has no scheme (expected sqlite:///relative/path, "
            "sqlite:////absolute/path or postgresql://user@host/database)"
        )
    if scheme in ("postgresql", "postgres"):
        return _postgres_stores(settings, url, metrics)
    if scheme == "sqlite":
        from pathlib import Path

        from grace_chat.store.backends.sqlite_approvals import SQLiteApprovalStore
        from grace_chat.store.backends.sqlite_chat import SQLiteChatHistory
        from grace_chat.store.backends.sqlite_healing import SQLiteAttemptStore
        from grace_chat.store.backends.sqlite_knowledge import SQLiteKnowledgeStore
        from grace_chat.store.backends.sqlite_learning import SQLiteLearningStore
        from grace_chat.store.backends.sqlite_missions import SQLiteMissionStore
        from grace_chat.store.backends.sqlite_notifications import SQLiteNotificationLog
        from grace_chat.store.backends.sqlite_preferences import SQLitePreferenceStore
        from grace_chat.store.backends.sqlite_tasks import SQLiteTaskStore

        log = SQLiteNotificationLog(
            Path(rest[1:] if rest.startswith("/") else rest),
            synchronous=settings.sqlite_synchronous,
            cache_mib=settings.sqlite_cache_mib,
            commit_window=settings.sqlite_commit_window_ms / 1000,
            retention_count=settings.retention_count,
            retention_days=settings.retention_days,
            metrics=metrics,
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
    raise ConfigError(
        f"unsupported database URL scheme {scheme!r}; supported: sqlite, postgresql (postgres)"
    )


def _postgres_stores(settings: Settings, url: str, metrics: Metrics | None) -> Stores:
    try:
        import asyncpg  # noqa: F401 - only to tell a missing driver apart
    except ImportError:
        raise ConfigError(
            "GRACE_DATABASE_URL names PostgreSQL, whose driver is not installed: "
            "install Grace with the postgres extra (pip install 'grace-chat[postgres]')"
        ) from None
    from grace_chat.store.backends.postgres_approvals import PostgresApprovalStore
    from grace_chat.store.backends.postgres_chat import PostgresChatHistory
    from grace_chat.store.backends.postgres_cluster import PostgresCluster
    from grace_chat.store.backends.postgres_healing import PostgresAttemptStore
    from grace_chat.store.backends.postgres_knowledge import PostgresKnowledgeStore
    from grace_chat.store.backends.postgres_learning import PostgresLearningStore
    from grace_chat.store.backends.postgres_missions import PostgresMissionStore
    from grace_chat.store.backends.postgres_notifications import PostgresNotificationLog
    from grace_chat.store.backends.postgres_preferences import PostgresPreferenceStore
    from grace_chat.store.backends.postgres_tasks import PostgresTaskStore

    log = PostgresNotificationLog(
        url,
        pool_size=settings.postgres_pool_size,
        retention_count=settings.retention_count,
        retention_days=settings.retention_days,
        metrics=metrics,
    )
    tasks = PostgresTaskStore(log.db)
    missions = PostgresMissionStore(log.db)
    return Stores(
        log,
        tasks,
        PostgresApprovalStore(log.db),
        PostgresAttemptStore(log.db),
        missions,
        PostgresChatHistory(log.db),
        PostgresKnowledgeStore(log.db),
        PostgresLearningStore(log.db),
        PostgresPreferenceStore(log.db),
        PostgresCluster(
            log.db,
            heartbeat=settings.cluster_heartbeat_seconds,
            owner_timeout=settings.cluster_owner_timeout_seconds,
            poll=settings.cluster_poll_seconds,
            command_timeout=settings.cluster_command_timeout_seconds,
        ),
        tasks,
        missions,
    )
