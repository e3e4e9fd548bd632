"""The Celery events bridge: tasks an existing Celery app runs, shown as Grace tasks.

It consumes the app's task events (Celery's event receiver; the workers must send them: ``-E``
or ``worker_send_task_events = True``) in a thread of its own and, for every ``task-received``
whose id is not one Grace sent itself (``grace-…``), starts a Grace task ``celery-<id>`` for a
user: the message's ``grace_user`` header (announced by workers that import ``celery_worker``),
else the keyword argument ``user_kwarg`` (default ``grace_user``), when either is a valid user
id, else ``default_user``. From then on the task's events
drive it, as the executor ``celery-events`` (``tasks.executor``'s guarantees):

``task-started`` → started, ``task-progress`` (``celery_worker.report_progress``) → progress,
``task-succeeded`` → completed (the result as the event shows it), ``task-failed`` → failed
with the exception, ``task-revoked`` → cancelled, ``task-rejected`` → failed. Cancel from the
chat revokes it as the Celery executor does; pause and resume answer ``conflict``.

Tasks received while the bridge was not connected are not shown (events are not kept); a bridge
that loses the broker reconnects every second and logs it.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import logging
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any

import orjson
from celery import Celery

from grace_chat.auth import check_user_id
from grace_chat.errors import BadRequest, GraceError
from grace_chat.tasks.context import TaskCancelled, TaskFailed
from grace_chat.tasks.executor import Job, Reporter
from grace_chat.tasks.executors.celery import GRACE_ID_PREFIX, CeleryExecutor, Seen
from grace_chat.tasks.executors.celery_worker import USER_EVENT
from grace_chat.tasks.runner import TaskRunner
from grace_chat.tasks.types import TaskSpec

log = logging.getLogger("grace_chat.tasks.celery_events")
NAME = "celery-events"
#: How often a followed task checks whether a cancel step is due while no event arrives.
TICK_SECONDS = 0.2
_UNSAFE = re.compile(r"[^A-Za-z0-9_.:-]")
_TYPE_UNSAFE = re.compile(r"[^a-z0-9_-]+")
_EXCEPTION = re.compile(r"^(\w+)\((.*)\)$", re.S)


class CeleryBridge:
    """A component (``start``/``stop``) and the executor of the tasks it adopts."""

    name = NAME
    pausable = False

    def __init__(
        self,
        app: Celery,
        runner: TaskRunner,
        *,
        default_user: str,
        user_kwarg: str | None = "grace_user",
    ) -> None:
        self.app = app
        self.runner = runner
        self.default_user = check_user_id(default_user)
        self.user_kwarg = user_kwarg
        self._revoker = CeleryExecutor(app)
        self._queues: dict[str, asyncio.Queue[Mapping[str, Any]]] = {}
        self._header_users: dict[str, Any] = {}
        self._adopting: set[asyncio.Task[None]] = set()
        self._stopping = threading.Event()
        self._receiver: Any = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        runner.executors[NAME] = self

    # -- the component ------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._consume, name="grace-celery-events")
        self._thread.daemon = True
        self._thread.start()

    async def stop(self) -> None:
        self._stopping.set()
        if self._receiver is not None:
            self._receiver.should_stop = True
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 10)
        for task in list(self._adopting):
            task.cancel()
        await asyncio.gather(*self._adopting, return_exceptions=True)

    def _consume(self) -> None:
        while not self._stopping.is_set():
            try:
                with self.app.connection_for_read() as conn:
                    receiver = self.app.events.Receiver(conn, handlers={"*": self._handoff})
                    receiver.on_consume_ready = _announced(receiver.on_consume_ready, conn)
                    self._receiver = receiver
                    if self._stopping.is_set():
                        return
                    receiver.capture(limit=None, timeout=None, wakeup=False)
            except Exception as exc:
                if self._stopping.is_set():
                    return
                log.warning("Celery events: %s; connecting again in 1s", exc)
                self._stopping.wait(1.0)

    def _handoff(self, event: Mapping[str, Any]) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self._on_event, dict(event))

    # -- events -------------------------------------------------------------------------------

    def _on_event(self, event: Mapping[str, Any]) -> None:
        kind, celery_id = str(event.get("type", "")), event.get("uuid")
        if not kind.startswith("task-") or not isinstance(celery_id, str) or not celery_id:
            return
        if celery_id.startswith(GRACE_ID_PREFIX):
            return  # sent by Grace's Celery executor, which follows it itself
        if kind == USER_EVENT:  # just before its task-received
            if len(self._header_users) >= 10_000:
                self._header_users.pop(next(iter(self._header_users)))
            self._header_users[celery_id] = event.get("user")
            return
        queue = self._queues.get(celery_id)
        if queue is not None:
            queue.put_nowait(event)
        elif kind == "task-received":
            self._queues[celery_id] = asyncio.Queue()
            task = asyncio.get_running_loop().create_task(self._adopt(celery_id, event))
            self._adopting.add(task)
            task.add_done_callback(self._adopting.discard)

    async def _adopt(self, celery_id: str, event: Mapping[str, Any]) -> None:
        name = str(event.get("name") or "celery task")
        kwargs = _literal(event.get("kwargs"))
        params: dict[str, Any] = {"celery_task": name, "celery_id": celery_id}
        params["args"] = _json_or_text(_literal(event.get("args")))
        params["kwargs"] = _json_or_text(kwargs)
        task_type = _TYPE_UNSAFE.sub("_", name.rsplit(".", 1)[-1].lower()).strip("_") or "celery"
        spec = TaskSpec(task_type, executor=NAME, target=celery_id, title=name)
        try:
            await self.runner.start_task(
                user_id=self._user_of(self._header_users.pop(celery_id, None), kwargs),
                task_type=task_type,
                params=params,
                task_id=_UNSAFE.sub("_", f"celery-{celery_id}")[:128],
                title=name,
                spec=spec,
            )
        except GraceError as exc:
            log.warning("Celery task %s[%s] not shown: %s", name, celery_id, exc.message)
            self._queues.pop(celery_id, None)

    def _user_of(self, header: Any, kwargs: Any) -> str:
        named = (
            kwargs.get(self.user_kwarg) if self.user_kwarg and isinstance(kwargs, dict) else None
        )
        for wanted in (header, named):
            if isinstance(wanted, str):
                try:
                    return check_user_id(wanted)
                except BadRequest:
                    log.warning("Celery task names user %r, which is not a valid user id", wanted)
        return self.default_user

    # -- the executor of adopted tasks --------------------------------------------------------

    async def run(self, job: Job, report: Reporter) -> Any:
        queue = self._queues.get(job.target)
        if queue is None:
            raise TaskFailed("this task is followed from Celery's events and cannot start here")
        self._revoker.watch(job.task_id, job.target)
        seen = Seen()
        try:
            while True:
                try:
                    async with asyncio.timeout(TICK_SECONDS):
                        event = await queue.get()
                except TimeoutError:
                    await self._revoker.escalate(job.task_id, seen, report)
                    continue
                seen = await self._apply(event, seen, report)
                if event.get("type") in ("task-succeeded", "task-failed"):
                    await report.started()
                if (outcome := _outcome(event, report)) is not None:
                    return outcome[0]
                await self._revoker.escalate(job.task_id, seen, report)
        finally:
            self._revoker.unwatch(job.task_id)
            self._queues.pop(job.target, None)

    @staticmethod
    async def _apply(event: Mapping[str, Any], seen: Seen, report: Reporter) -> Seen:
        kind = event.get("type")
        if kind == "task-started":
            seen = Seen(event.get("hostname"), event.get("pid"))
            await report.started(f"started on {seen.hostname} (pid {seen.pid})")
        elif kind == "task-progress":
            await report.started()
            with contextlib.suppress(TypeError, ValueError):
                note = event.get("note")
                report.progress(float(event.get("progress", 0.0)), str(note) if note else None)
        elif kind == "task-retried":
            report.log(f"retrying: {event.get('exception', '')}")
        return seen

    async def cancel(self, task_id: str, grace: float) -> None:
        await self._revoker.cancel(task_id, grace)

    async def close(self) -> None:
        await self._revoker.close()


def _announced(ready: Callable[..., None], conn: Any) -> Callable[..., None]:
    """``ready``, then the log line that says events flow (they are lost before it)."""

    def on_ready(*args: Any, **kwargs: Any) -> None:
        ready(*args, **kwargs)
        log.info("following the task events of %s", conn.as_uri())

    return on_ready


def _outcome(event: Mapping[str, Any], report: Reporter) -> tuple[Any] | None:
    """``(result,)`` for a succeeded task; raises for a failed, rejected or revoked one."""
    kind = event.get("type")
    if kind == "task-succeeded":
        return (_json_or_text(_literal(event.get("result"))),)
    if kind == "task-failed":
        for line in str(event.get("traceback") or "").rstrip().splitlines()[-20:]:
            report.log(line)
        exception = str(event.get("exception") or "failed")
        report.log(f"error: {exception}")
        raise TaskFailed(_message(exception))
    if kind == "task-rejected":
        raise TaskFailed("the Celery worker rejected the task")
    if kind == "task-revoked":
        report.log("revoked on the Celery side")
        raise TaskCancelled
    return None


def _literal(text: Any) -> Any:
    """A Python literal from an event's ``repr`` field (``args``, ``kwargs``, ``result``)."""
    if not isinstance(text, str):
        return text
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text


def _json_or_text(value: Any) -> Any:
    try:
        return orjson.loads(orjson.dumps(value))
    except TypeError:
        return repr(value)


def _message(exception: str) -> str:
    """``ValueError('disk full')`` → ``disk full``; anything else as it is."""
    found = _EXCEPTION.match(exception.strip())
    if found:
        args = _literal(f"({found[2]},)") if found[2] else ()
        if isinstance(args, tuple) and len(args) == 1 and isinstance(args[0], str) and args[0]:
            return args[0][:2000]
    return exception[:2000]
