"""Task types: Python callables registered by name, or shell commands declared in ``grace.toml``.

A Python task is ``async def fn(ctx)`` (or a plain ``def``, run in a worker thread, or a function
without parameters, as ``start_background_task(task_fn=deploy_backend)`` passes it). A shell task
is a command line; ``{name}`` placeholders are filled from the start parameters, shell-quoted.
"""

from __future__ import annotations

import re
import shlex
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from grace_chat.errors import BadRequest, ConfigError, NotFound

TaskFn = Callable[..., Any]
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")


@dataclass(frozen=True, slots=True)
class TaskSpec:
    name: str
    fn: TaskFn | None = None
    command: str | None = None
    timeout: float | None = None
    title: str | None = None
    #: Shell command that undoes this task (self-healing's rollback playbook runs it).
    rollback: str | None = None
    cwd: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)

    def render_command(self, params: Mapping[str, Any]) -> str:
        assert self.command is not None
        fields = {f for _, f, _, _ in string.Formatter().parse(self.command) if f}
        missing = sorted(fields - params.keys())
        if missing:
            raise BadRequest(f"task type {self.name!r} needs parameters: {', '.join(missing)}")
        quoted = {k: shlex.quote(str(v)) for k, v in params.items()}
        return self.command.format_map(quoted)


class TaskTypes:
    def __init__(self) -> None:
        self._specs: dict[str, TaskSpec] = {}

    def add(self, spec: TaskSpec) -> None:
        if not _NAME.match(spec.name):
            raise ConfigError(
                f"task type name {spec.name!r} must be lowercase letters, digits, _ -"
            )
        if (spec.fn is None) == (spec.command is None):
            raise ConfigError(f"task type {spec.name!r} needs exactly one of a function or command")
        self._specs[spec.name] = spec

    def task_type(
        self, name: str, *, timeout: float | None = None, title: str | None = None
    ) -> Callable[[TaskFn], TaskFn]:
        """Decorator: ``@grace.tasks.types.task_type("deployment")``."""

        def register(fn: TaskFn) -> TaskFn:
            self.add(TaskSpec(name, fn=fn, timeout=timeout, title=title))
            return fn

        return register

    def get(self, name: str) -> TaskSpec:
        spec = self._specs.get(name)
        if spec is None:
            known = ", ".join(sorted(self._specs)) or "none"
            raise NotFound(f"no task type {name!r}; known types: {known}")
        return spec

    def find(self, name: str) -> TaskSpec | None:
        return self._specs.get(name)

    def names(self) -> list[str]:
        return sorted(self._specs)

    def load_config(self, tasks: Mapping[str, Any]) -> None:
        """``[tasks.NAME]`` tables: ``command``, ``timeout``, ``title``, ``rollback``, ``cwd``,
        ``env``."""
        for name, table in tasks.items():
            if not isinstance(table, Mapping) or not isinstance(table.get("command"), str):
                raise ConfigError(f"[tasks.{name}] needs a string 'command'")
            unknown = set(table) - {"command", "timeout", "title", "rollback", "cwd", "env"}
            if unknown:
                raise ConfigError(f"[tasks.{name}] has unknown keys: {', '.join(sorted(unknown))}")
            timeout = table.get("timeout")
            if timeout is not None and (not isinstance(timeout, int | float) or timeout <= 0):
                raise ConfigError(f"[tasks.{name}] timeout must be a positive number of seconds")
            self.add(
                TaskSpec(
                    name,
                    command=table["command"],
                    timeout=float(timeout) if timeout is not None else None,
                    title=table.get("title"),
                    rollback=table.get("rollback"),
                    cwd=table.get("cwd"),
                    env={str(k): str(v) for k, v in dict(table.get("env", {})).items()},
                )
            )
