"""Self-healing playbooks and the record of every attempt.

A playbook binds a failure to a strategy: ``retry`` (run the failed task again, with backoff),
``rollback`` (run the task type's declared rollback command, or the playbook's), or
``restart_service`` (run a declared command). It fires on ``task_failed`` (matching
``task_type``) or on a guardian ``error_detected`` (matching ``check``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from grace_chat.errors import ConfigError
from grace_chat.notifications.model import iso_utc_ts


class Strategy(StrEnum):
    RETRY = "retry"
    ROLLBACK = "rollback"
    RESTART_SERVICE = "restart_service"


class Outcome(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    GAVE_UP = "gave_up"


@dataclass(frozen=True, slots=True)
class Playbook:
    name: str
    strategy: Strategy
    on: str = "task_failed"  # or "error_detected"
    task_type: str | None = None
    check: str | None = None
    command: str | None = None
    backoff: float = 1.0
    timeout: float = 300.0

    def matches_task(self, task_type: str) -> bool:
        return self.on == "task_failed" and self.task_type in (None, task_type)

    def matches_check(self, check: str | None) -> bool:
        return self.on == "error_detected" and check is not None and self.check == check


@dataclass(frozen=True, slots=True)
class Attempt:
    attempt_id: str
    playbook: str
    strategy: Strategy
    incident: str
    trigger: str  # the failed task id, or the check name
    user_id: str
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    outcome: Outcome = Outcome.RUNNING
    detail: str | None = None

    def info(self) -> dict[str, Any]:
        return {
            "attempt_id": self.attempt_id,
            "playbook": self.playbook,
            "strategy": self.strategy.value,
            "incident": self.incident,
            "trigger": self.trigger,
            "started_at": iso_utc_ts(self.started_at),
            "finished_at": iso_utc_ts(self.finished_at) if self.finished_at else None,
            "outcome": self.outcome.value,
            "detail": self.detail,
        }


class AttemptStore(Protocol):
    """Guarantees: every attempt is kept with its final outcome; ``count_since`` counts the
    attempts of one incident started at or after ``since`` (loop protection)."""

    async def open(self) -> None: ...

    async def save(self, attempt: Attempt) -> None: ...

    async def recent(self, user_id: str | None, limit: int = 20) -> list[Attempt]: ...

    async def count_since(self, incident: str, since: float) -> int: ...


@dataclass(frozen=True, slots=True)
class HealingConfig:
    playbooks: tuple[Playbook, ...] = ()
    max_attempts: int = 3
    window: float = 600.0

    @classmethod
    def from_config(cls, table: Mapping[str, Any]) -> HealingConfig:
        unknown = set(table) - {"playbooks", "max_attempts", "window"}
        if unknown:
            raise ConfigError(f"[selfheal] has unknown keys: {', '.join(sorted(unknown))}")
        books = []
        for raw in table.get("playbooks", []):
            where = f"[[selfheal.playbooks]] {raw.get('name', '?')}"
            try:
                strategy = Strategy(raw.get("strategy"))
            except ValueError:
                raise ConfigError(
                    f"{where}: strategy must be retry, rollback or restart_service"
                ) from None
            on = raw.get("on", "task_failed")
            if on not in {"task_failed", "error_detected"}:
                raise ConfigError(f"{where}: on must be task_failed or error_detected")
            if strategy is Strategy.RESTART_SERVICE and not raw.get("command"):
                raise ConfigError(f"{where}: restart_service needs a command")
            if on == "error_detected" and not raw.get("check"):
                raise ConfigError(f"{where}: on = error_detected needs the check's name")
            books.append(
                Playbook(
                    name=str(raw.get("name") or f"{strategy.value}_{raw.get('task_type', 'any')}"),
                    strategy=strategy,
                    on=on,
                    task_type=raw.get("task_type"),
                    check=raw.get("check"),
                    command=raw.get("command"),
                    backoff=float(raw.get("backoff", 1.0)),
                    timeout=float(raw.get("timeout", 300)),
                )
            )
        return cls(
            tuple(books), int(table.get("max_attempts", 3)), float(table.get("window", 600.0))
        )
