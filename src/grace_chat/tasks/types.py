"""Task types: Python callables registered by name, shell commands declared in ``grace.toml``, or
work another executor runs (``executor = "celery"``: a Celery task, named by ``celery_task``).

A Python task is ``async def fn(ctx)`` (or a plain ``def``, run in a worker thread, or a function
without parameters, as ``start_background_task(task_fn=deploy_backend)`` passes it). A shell task
is a command line; ``{name}`` placeholders are filled from the start parameters, shell-quoted.
Python and shell tasks run in Grace's own process (the ``local`` executor); a task type of another
executor names what that executor runs in ``target`` (see ``tasks.executor``).
"""

from __future__ import annotations

import re
import shlex
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from grace_chat.errors import BadRequest, ConfigError, NotFound
from grace_chat.tasks.executor import LOCAL

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
    #: Who runs it: ``local`` (Grace's process) or an executor's name (``celery``).
    executor: str = LOCAL
    #: What that executor runs: the Celery task's name (``myapp.tasks.deploy``).
    target: str | None = None
    #: The executor's queue for it (a Celery queue), ``None`` for its default.
    queue: str | None = None

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
        if spec.executor != LOCAL:
            if not spec.target or spec.fn is not None or spec.command is not None:
                raise ConfigError(
                    f"task type {spec.name!r} runs on {spec.executor}: it names the task to run "
                    f"there (celery_task) and has no function or command of its own"
                )
        elif (spec.fn is None) == (spec.command is None):
            raise ConfigError(f"task type {spec.name!r} needs exactly one of a function or command")
        self._specs[spec.name] = spec

    def task_type(
        self,
        name: str,
        *,
        timeout: float | None = None,
        title: str | None = None,
        executor: str = LOCAL,
        celery_task: str | None = None,
        queue: str | None = None,
    ) -> Callable[[TaskFn], TaskFn]:
        """Decorator: ``@grace.tasks.types.task_type("deployment")``.

        With ``executor="celery"`` the decorated function is not run by Grace: the task type sends
        ``celery_task`` (default: the decorated object's Celery name, so it can decorate a Celery
        task itself) to the Celery workers."""

        def register(fn: TaskFn) -> TaskFn:
            if executor == LOCAL:
                self.add(TaskSpec(name, fn=fn, timeout=timeout, title=title))
                return fn
            target = celery_task or getattr(fn, "name", None)
            if not isinstance(target, str):
                raise ConfigError(f"task type {name!r} runs on {executor}: name its celery_task")
            spec = TaskSpec(
                name, timeout=timeout, title=title, executor=executor, target=target, queue=queue
            )
            self.add(spec)
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

    def executors(self) -> set[str]:
        """The executors the registered task types name, ``local`` left out."""
        return {s.executor for s in self._specs.values() if s.executor != LOCAL}

    def load_config(self, tasks: Mapping[str, Any]) -> None:
        """``[tasks.NAME]`` tables: ``command``, ``timeout``, ``title``, ``rollback``, ``cwd``,
        ``env``; or ``executor = "celery"`` with ``celery_task``, ``queue``, ``timeout``,
        ``title``."""
        for name, table in tasks.items():
            if not isinstance(table, Mapping):
                raise ConfigError(f"[tasks.{name}] must be a table")
            timeout = table.get("timeout")
            if timeout is not None and (not isinstance(timeout, int | float) or timeout <= 0):
                raise ConfigError(f"[tasks.{name}] timeout must be a positive number of seconds")
            if table.get("executor", LOCAL) != LOCAL:
                self.add(_remote_spec(name, table, timeout))
                continue
            if not isinstance(table.get("command"), str):
                raise ConfigError(f"[tasks.{name}] needs a string 'command'")
            unknown = set(table) - {"command", "timeout", "title", "rollback", "cwd", "env"}
            unknown.discard("executor")
            if unknown:
                raise ConfigError(f"[tasks.{name}] has unknown keys: {', '.join(sorted(unknown))}")
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


REMOTE_EXECUTORS = frozenset({"celery"})


def _remote_spec(name: str, table: Mapping[str, Any], timeout: float | None) -> TaskSpec:
    executor = table["executor"]
    if executor not in REMOTE_EXECUTORS:
        known = ", ".join(sorted({LOCAL, *REMOTE_EXECUTORS}))
        raise ConfigError(f"[tasks.{name}] executor {executor!r} is not one of: {known}")
    unknown = set(table) - {"executor", "celery_task", "queue", "timeout", "title"}
    if unknown:
        raise ConfigError(f"[tasks.{name}] has unknown keys: {', '.join(sorted(unknown))}")
    target, queue, title = table.get("celery_task"), table.get("queue"), table.get("title")
    if not isinstance(target, str) or not target.strip():
        raise ConfigError(f"[tasks.{name}] runs on {executor}: it needs a string 'celery_task'")
    if queue is not None and not isinstance(queue, str):
        raise ConfigError(f"[tasks.{name}] queue must be a string")
    return TaskSpec(
        name,
        timeout=float(timeout) if timeout is not None else None,
        title=title if isinstance(title, str) else None,
        executor=executor,
        target=target.strip(),
        queue=queue,
    )
