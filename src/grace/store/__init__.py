"""Durable state. ``open_store`` picks the engine from the database URL."""

from __future__ import annotations

from grace.config import Settings
from grace.errors import ConfigError
from grace.store.base import LogHead, MarkReadResult, NotificationStore

__all__ = ["LogHead", "MarkReadResult", "NotificationStore", "open_store"]


def open_store(settings: Settings) -> NotificationStore:
    url = settings.resolved_database_url
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ConfigError(
            f"database URL {url!r} has no scheme (expected sqlite:///relative/path or sqlite:////absolute/path)"
        )
    if scheme == "sqlite":
        from pathlib import Path

        from grace.store.backends.sqlite import SQLiteStore

        return SQLiteStore(
            Path(rest[1:] if rest.startswith("/") else rest),
            synchronous=settings.sqlite_synchronous,
            retention_count=settings.retention_count,
            retention_days=settings.retention_days,
        )
    raise ConfigError(f"unsupported database URL scheme {scheme!r}; supported: sqlite")
