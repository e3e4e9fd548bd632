"""``[learning]`` in grace.toml: the watched folder, upload limits, the inbox."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grace_chat.errors import ConfigError

MAX_BYTES = 50 * 1024 * 1024
_KNOWN_KEYS = {"watch", "watch_user", "watch_interval", "max_bytes", "inbox"}


@dataclass(frozen=True, slots=True)
class LearningConfig:
    #: Folder whose new and changed files are ingested (``None``: no watching).
    watch: Path | None = None
    #: Whose knowledge the watched folder's documents become, and who is told.
    watch_user: str = "user"
    watch_interval: float = 2.0
    #: Largest document accepted, in bytes.
    max_bytes: int = MAX_BYTES
    #: Where uploads wait until their job has run.
    inbox: Path = Path(".grace/learning/inbox")

    @classmethod
    def from_section(
        cls, section: Mapping[str, Any], *, data_dir: Path, default_user: str
    ) -> LearningConfig:
        unknown = set(section) - _KNOWN_KEYS
        if unknown:
            raise ConfigError(f"[learning] has unknown keys: {', '.join(sorted(unknown))}")
        watch = section.get("watch")
        if watch is not None and not isinstance(watch, str):
            raise ConfigError("[learning] watch must be a folder path")
        interval = section.get("watch_interval", 2.0)
        if not isinstance(interval, int | float) or interval <= 0:
            raise ConfigError("[learning] watch_interval must be a positive number of seconds")
        max_bytes = section.get("max_bytes", MAX_BYTES)
        if not isinstance(max_bytes, int) or max_bytes <= 0:
            raise ConfigError("[learning] max_bytes must be a positive integer")
        user = section.get("watch_user", default_user)
        if not isinstance(user, str) or not user:
            raise ConfigError("[learning] watch_user must be a user id")
        inbox = section.get("inbox")
        return cls(
            watch=Path(watch).expanduser() if watch else None,
            watch_user=user,
            watch_interval=float(interval),
            max_bytes=max_bytes,
            inbox=Path(inbox) if isinstance(inbox, str) else data_dir / "learning" / "inbox",
        )
