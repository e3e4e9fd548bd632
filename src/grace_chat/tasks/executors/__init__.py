"""Executors besides the runner's own (``tasks.executor``): built only for the task types that
name them, so Grace without Celery task types never imports Celery."""

from __future__ import annotations

from grace_chat.errors import ConfigError
from grace_chat.tasks.executor import Executor

#: The optional dependency each executor needs, as ``pip install 'grace-chat[EXTRA]'`` names it.
EXTRAS = {"celery": "celery"}


def build_executors(
    names: set[str],
    *,
    celery_broker_url: str | None = None,
    celery_result_backend: str | None = None,
    celery_app: str | None = None,
) -> dict[str, Executor]:
    """The executors ``names`` asks for (``TaskTypes.executors()``), plus Celery's when an app, or
    a broker and a result backend, are set though no configured type uses it yet (for types added
    in code)."""
    executors: dict[str, Executor] = {}
    if celery_app or (celery_broker_url and celery_result_backend):
        names = names | {"celery"}
    for name in sorted(names):
        if name != "celery":
            raise ConfigError(f"no executor {name!r}; known: local, celery")
        try:
            from grace_chat.tasks.executors.celery import CeleryExecutor
            from grace_chat.tasks.executors.celery import celery_app as make_app
        except ImportError as exc:
            raise ConfigError(
                f"task types run on Celery, which is not installed ({exc.name}): "
                "pip install 'grace-chat[celery]'"
            ) from None
        executors[name] = CeleryExecutor(
            make_app(celery_broker_url, celery_result_backend, celery_app)
        )
    return executors
