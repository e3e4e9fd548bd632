"""The Celery executor: a task type with ``executor = "celery"`` runs on Celery workers.

Grace sends the task with ``send_task(celery_task, kwargs=params)`` under a fresh id
``grace-<uuid>`` (the events bridge leaves those ids to this executor) with the message headers
``grace_task_id`` and ``grace_user_id``, the type's ``queue`` and its ``timeout`` as Celery's hard
``time_limit``. It then reads the task's state from the result backend every ``POLL_SECONDS``:

* ``STARTED`` (workers with ``task_track_started``), ``PROGRESS``, ``RETRY`` or any outcome →
  Grace's ``started`` (once; without ``task_track_started`` a short task is seen starting when
  it reports progress or ends);
* ``PROGRESS`` (``self.update_state(state="PROGRESS", meta={"progress": 0.4, "note": "…"})``,
  ``meta={"current": 4, "total": 10}``, or ``report_progress`` from
  ``grace_chat.tasks.executors.celery_progress``) → ``progress``;
* ``SUCCESS`` → ``completed`` with the result; ``FAILURE`` → ``failed`` with the error (its type
  and traceback go to the task's log); ``REVOKED`` → ``cancelled``.

Cancel: ``revoke`` at once (a task no worker has begun is dropped; a running one is not
interrupted by it); still not finished after ``grace`` seconds: ``revoke(terminate=True)`` with
SIGTERM; ``grace`` seconds after that, SIGKILL to the pool process it ran in if it is still alive
(``grace_kill``, registered by ``celery_worker`` on the workers, because Celery forgets a task
once it has signalled it). The pool process is the one ``STARTED`` or ``report_progress`` named
in the backend; when a task replaced ``STARTED`` before a poll saw it and never named it, the
workers are asked (``inspect().active()``, at most ``INSPECT_SECONDS``) just before the SIGTERM,
while the task is still on their list. Three times ``grace`` seconds after the cancel the task
is recorded cancelled whether or not the workers confirmed. Every broker and backend call runs
in this executor's own small thread pool, never on the event loop.

Readiness: ``reachable`` opens one connection to the broker, bounded by ``REACH_SECONDS``;
``GET /api/ready`` answers 503 naming the broker while it fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import logging
import os
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from celery import Celery, states

from grace_chat.errors import ConfigError, Unavailable
from grace_chat.tasks.context import TaskCancelled, TaskFailed
from grace_chat.tasks.executor import Job, Reporter

log = logging.getLogger("grace_chat.tasks.celery")
#: How often a task's state is read from the result backend.
POLL_SECONDS = 0.2
#: Ids of the tasks Grace sends start with this; the events bridge leaves them alone.
GRACE_ID_PREFIX = "grace-"
PROGRESS = "PROGRESS"
#: How long the readiness check waits for the broker to accept a connection.
REACH_SECONDS = 3.0
#: How long the workers are given to say which pool process runs a task being cancelled.
INSPECT_SECONDS = 1.0
_BEGUN = frozenset({states.STARTED, PROGRESS, states.RETRY, states.SUCCESS, states.FAILURE})


def celery_app(
    broker_url: str | None,
    result_backend: str | None,
    app_path: str | None = None,
    *,
    need_results: bool = True,
) -> Celery:
    """The Celery app Grace sends with: ``app_path`` (``myapp.celery:app``, its configuration as
    it is) or a bare app for ``broker_url``; ``result_backend`` overrides either's. The events
    bridge reads no results (``need_results=False``)."""
    if app_path:
        module, _, attr = app_path.partition(":")
        if os.getcwd() not in sys.path:  # as ``celery -A`` does: the app is the user's module
            sys.path.insert(0, os.getcwd())
        try:
            app = getattr(importlib.import_module(module), attr or "app")
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"cannot load the Celery app {app_path!r}: {exc}") from None
        if not isinstance(app, Celery):
            raise ConfigError(f"{app_path!r} is not a Celery app")
        if broker_url:
            app.conf.broker_url = broker_url
    elif broker_url:
        app = Celery("grace", broker=broker_url, set_as_current=False)
        app.conf.broker_connection_timeout = 5
    else:
        raise ConfigError(
            "a task type runs on Celery but no broker is set: GRACE_CELERY_BROKER_URL "
            "(amqp://… or redis://…) or GRACE_CELERY_APP (module:app)"
        )
    if result_backend:
        app.conf.result_backend = result_backend
    backend = str(app.conf.result_backend or "")
    if (need_results and not backend) or backend.startswith(("disabled", "rpc")):
        raise ConfigError(
            "Celery tasks need a result backend Grace can read their state from "
            "(GRACE_CELERY_RESULT_BACKEND, e.g. redis://127.0.0.1:6379/1; rpc:// only answers "
            "the process that waits on a result)"
        )
    return app


def progress_of(meta: Any) -> tuple[float, str | None] | None:
    """``{"progress": 0.4, "note": "…"}``, ``{"current": 4, "total": 10}`` or ``{"percent": 40}``
    → ``(0.4, note)``; anything else → ``None``."""
    if not isinstance(meta, Mapping):
        return None
    note = meta.get("note")
    note = str(note)[:500] if note is not None else None
    try:
        if "progress" in meta:
            fraction = float(meta["progress"])
        elif "current" in meta and "total" in meta:
            fraction = float(meta["current"]) / float(meta["total"])
        elif "percent" in meta:
            fraction = float(meta["percent"]) / 100
        else:
            return None
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if fraction != fraction:  # NaN
        return None
    return min(1.0, max(0.0, fraction)), note


def error_of(exc: Any) -> str:
    """The person-facing message of a Celery task's exception (as the local runner words it)."""
    if isinstance(exc, BaseException):
        name = type(exc).__name__
        if name == "TimeLimitExceeded":
            return f"timed out after {exc.args[0]:g}s" if exc.args else "timed out"
        return (str(exc) or name)[:2000]
    return str(exc)[:2000] or "failed"


@dataclass
class Revocation:
    """One cancel: when it was asked and which steps were sent."""

    celery_id: str
    grace: float
    asked: float = field(default_factory=time.monotonic)
    revoked: bool = False
    terminated: bool = False

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.asked


@dataclass
class Seen:
    """Where the task runs, once a worker reported it started."""

    hostname: str | None = None
    pid: int | None = None

    def learn(self, info: Mapping[str, Any]) -> None:
        """Take the worker and pool process a ``STARTED`` or ``PROGRESS`` meta names, if any."""
        hostname, pid = info.get("hostname"), info.get("pid")
        if isinstance(hostname, str) and hostname and isinstance(pid, int):
            self.hostname, self.pid = hostname, pid


class CeleryExecutor:
    """``Executor`` for Celery (see ``tasks.executor`` for the guarantees)."""

    name = "celery"
    pausable = False

    def __init__(self, app: Celery, *, poll_seconds: float = POLL_SECONDS) -> None:
        self.app = app
        self.poll_seconds = poll_seconds
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="grace-celery")
        self._ids: dict[str, str] = {}
        self._cancels: dict[str, Revocation] = {}
        self._kills: set[asyncio.Task[None]] = set()
        with app.connection_for_write() as conn:  # not connected: only its address is read
            host = f"{conn.hostname}:{conn.port}" if conn.port else str(conn.hostname)
            #: The broker, as messages name it: transport, host and port, never credentials.
            self.where = f"{conn.transport_cls}://{host}"

    async def reachable(self) -> None:
        """Return once the broker accepted a connection (one attempt, at most ``REACH_SECONDS``
        in this executor's threads); raise ``Unavailable`` naming the broker otherwise."""

        def connect() -> None:
            with self.app.connection_for_write(connect_timeout=REACH_SECONDS) as conn:
                conn.ensure_connection(
                    max_retries=0, interval_start=0, interval_step=0, timeout=REACH_SECONDS
                )

        try:
            async with asyncio.timeout(REACH_SECONDS + 1):
                await self._call(connect)
        except Exception as exc:
            raise Unavailable(
                f"the Celery broker at {self.where} does not answer ({type(exc).__name__})"
            ) from None

    async def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    async def run(self, job: Job, report: Reporter) -> Any:
        celery_id = f"{GRACE_ID_PREFIX}{uuid.uuid4()}"
        self.watch(job.task_id, celery_id)
        options: dict[str, Any] = {
            "task_id": celery_id,
            "kwargs": job.params,
            "headers": {"grace_task_id": job.task_id, "grace_user_id": job.user_id},
        }
        if job.queue:
            options["queue"] = job.queue
        if job.timeout:
            options["time_limit"] = job.timeout
        try:
            await self._call(self.app.send_task, job.target, **options)
            report.log(f"sent to Celery: {job.target}[{celery_id}]")
            return await self._follow(job.task_id, celery_id, report)
        finally:
            self.unwatch(job.task_id)

    def watch(self, task_id: str, celery_id: str) -> None:
        """Grace's ``task_id`` is Celery's ``celery_id`` (for ``cancel``)."""
        self._ids[task_id] = celery_id

    def unwatch(self, task_id: str) -> None:
        self._ids.pop(task_id, None)
        self._cancels.pop(task_id, None)

    async def _follow(self, task_id: str, celery_id: str, report: Reporter) -> Any:
        begun = False
        seen = Seen()
        last_progress: tuple[float, str | None] | None = None
        retries_seen: Any = None
        unreadable = False
        while True:
            try:
                meta = await self._call(self.app.backend.get_task_meta, celery_id, cache=False)
            except Exception as exc:  # the backend is out of reach: the task may well go on
                if not unreadable:
                    report.log(f"cannot read the task's state ({exc}); trying again")
                unreadable = True
                await self.escalate(task_id, seen, report)
                await asyncio.sleep(self.poll_seconds)
                continue
            unreadable = False
            state, info = meta.get("status"), meta.get("result")
            if state in (states.STARTED, PROGRESS) and isinstance(info, Mapping):
                seen.learn(info)
            if state in _BEGUN and not begun:
                begun = True
                await report.started(_where(seen))
            if state == PROGRESS and (progress := progress_of(info)) != last_progress:
                last_progress = progress
                if progress is not None:
                    report.progress(*progress)
            elif state == states.SUCCESS:
                return info
            elif state == states.FAILURE:
                if meta.get("traceback"):
                    for line in str(meta["traceback"]).rstrip().splitlines()[-20:]:
                        report.log(line)
                report.log(f"error: {type(info).__name__}: {info}")
                raise TaskFailed(error_of(info))
            elif state == states.REVOKED:
                report.log("revoked on the Celery side")
                raise TaskCancelled
            elif state == states.RETRY and str(info) != retries_seen:
                retries_seen = str(info)
                report.log(f"retrying: {info}")
            await self.escalate(task_id, seen, report)
            await asyncio.sleep(self.poll_seconds)

    async def cancel(self, task_id: str, grace: float) -> None:
        celery_id = self._ids.get(task_id)
        if celery_id is not None and task_id not in self._cancels:
            self._cancels[task_id] = Revocation(celery_id, grace)

    async def escalate(self, task_id: str, seen: Seen, report: Reporter) -> None:
        """The cancel's next step, if one is due; raises ``TaskCancelled`` past the last."""
        r = self._cancels.get(task_id)
        if r is None:
            return
        revoke = self.app.control.revoke
        if not r.revoked:
            r.revoked = True
            report.log("cancel: revoke sent to the Celery workers")
            await self._call(revoke, r.celery_id)
        elif not r.terminated and r.elapsed >= r.grace:
            r.terminated = True
            if seen.pid is None or seen.hostname is None:
                await self._ask_workers(r.celery_id, seen)  # a terminate drops it from the list
            report.log("cancel: terminate (SIGTERM) sent to the Celery workers")
            await self._call(revoke, r.celery_id, terminate=True, signal="SIGTERM")
            kill = asyncio.get_running_loop().create_task(self._kill_later(r, seen))
            self._kills.add(kill)
            kill.add_done_callback(self._kills.discard)
        elif r.elapsed >= 3 * r.grace:
            report.log("cancel: the Celery workers did not confirm; recorded cancelled")
            raise TaskCancelled

    async def _kill_later(self, r: Revocation, seen: Seen) -> None:
        """``grace`` seconds after SIGTERM: SIGKILL to the process if it is still running (the
        workers' ``grace_kill`` checks that it is the one a terminate signalled)."""
        await asyncio.sleep(r.grace)
        if seen.pid is None or seen.hostname is None:
            log.warning("no worker said where Celery task %s runs; no SIGKILL", r.celery_id)
            return
        try:
            await self._call(
                self.app.control.broadcast,
                "grace_kill",
                arguments={"pid": seen.pid},
                destination=[seen.hostname],
            )
        except Exception as exc:  # the broker is gone: nothing more to do from here
            log.warning("could not send SIGKILL for Celery task %s: %s", r.celery_id, exc)

    async def _ask_workers(self, celery_id: str, seen: Seen) -> None:
        """Fill ``seen`` from the workers' list of the tasks they run (``worker_pid``)."""
        destination = [seen.hostname] if seen.hostname else None

        def active() -> Any:
            inspect = self.app.control.inspect(destination=destination, timeout=INSPECT_SECONDS)
            return inspect.active()

        try:
            replies = await self._call(active)
        except Exception as exc:  # the broker is gone: nothing more to do from here
            log.warning("could not ask the Celery workers about task %s: %s", celery_id, exc)
            return
        for hostname, tasks in (replies or {}).items():
            for task in tasks or ():
                if isinstance(task, Mapping) and task.get("id") == celery_id:
                    seen.learn({"hostname": hostname, "pid": task.get("worker_pid")})
                    return

    async def close(self) -> None:
        for kill in list(self._kills):
            with contextlib.suppress(asyncio.CancelledError):
                await kill
        with contextlib.suppress(Exception):
            await self._call(self.app.close)
        self._pool.shutdown(wait=False, cancel_futures=True)


def _where(seen: Seen) -> str | None:
    if seen.hostname:
        return f"started on {seen.hostname} (pid {seen.pid if seen.pid is not None else '?'})"
    return None
