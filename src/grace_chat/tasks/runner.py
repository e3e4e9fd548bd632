"""The task runner: starts background work, applies the person's requests, reports every change.

Guarantees: every state change goes through ``TaskRecord.move`` (illegal ones answer ``conflict``)
and is saved before it is announced; the owner is told on the bus (``TASK_*`` events, turned into
notifications by ``tasks.rules``) in the order things happened: started, progress (collapsed),
paused / resumed, then exactly one of completed, failed, cancelled or interrupted. At most
``concurrency`` tasks run at once; the rest wait ``queued``. Only a task's owner (or an admin)
sees or controls it. When the runner stops, tasks still running are stopped and recorded as
``interrupted``; when it starts, tasks a dead process left ``running`` are marked ``interrupted``.
A task type of another executor (``tasks.executor``) is run there (``tasks.handoff``): it is not
counted against ``concurrency``, it becomes ``running`` when that executor says the work began,
and pause and resume answer ``conflict`` unless the executor can pause. ``tasks.live`` holds each
task this process runs and saves and announces its changes.

In a cluster a task lives in the process that started it; ``elsewhere`` (set by the composition
root, ``tasks.ownership``) hands pause, resume and cancel of a task this runner does not run to
the process that does, after the same checks (``not_found``, ``forbidden``) as here.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
import uuid
from collections.abc import Mapping
from typing import Any, Protocol

import orjson

from grace_chat.auth import Identity, check_user_id
from grace_chat.errors import BadRequest, Conflict, Forbidden, NotFound, Unavailable
from grace_chat.events import EventBus, EventType
from grace_chat.tasks.context import TaskCancelled, TaskContext, TaskFailed
from grace_chat.tasks.executor import LOCAL, Executor
from grace_chat.tasks.handoff import cancel_elsewhere, check_pausable, execute_elsewhere
from grace_chat.tasks.live import LiveTask, TaskBook, jsonable, task_event
from grace_chat.tasks.model import TaskRecord, TaskState
from grace_chat.tasks.shell import ShellProcess
from grace_chat.tasks.store import TaskStore
from grace_chat.tasks.types import TaskFn, TaskSpec, TaskTypes

__all__ = ["Elsewhere", "TaskRunner", "task_event"]

log = logging.getLogger("grace_chat.tasks")
_TASK_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


class Elsewhere(Protocol):
    """Tasks other processes run: ``forward`` has the owner of ``task_id`` apply ``action``
    (``pause``, ``resume``, ``cancel``) for ``caller`` and returns the task as it is then, raises
    the owner's error, or answers ``None`` when no other live process runs it."""

    async def forward(self, action: str, task_id: str, caller: Identity) -> TaskRecord | None: ...


class TaskRunner:
    def __init__(
        self,
        store: TaskStore,
        bus: EventBus,
        types: TaskTypes | None = None,
        *,
        concurrency: int = 4,
        cancel_grace: float = 5.0,
        progress_interval: float = 1.0,
        log_limit: int = 1000,
        executors: Mapping[str, Executor] | None = None,
    ) -> None:
        self.store = store
        self.bus = bus
        self.types = types or TaskTypes()
        self.cancel_grace = cancel_grace
        #: Saves and announces the changes of the tasks this process holds.
        self.book = TaskBook(store, bus, progress_interval, log_limit)
        self._slots = asyncio.Semaphore(concurrency)
        self._live: dict[str, LiveTask] = {}
        self.executors: dict[str, Executor] = dict(executors or {})
        #: Tasks other processes of a cluster run (``None``: this process runs every task).
        self.elsewhere: Elsewhere | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        await self.store.open()
        for task in await self.store.interrupt_active():
            await self.book.emit(EventType.TASK_INTERRUPTED, task)

    async def stop(self) -> None:
        """Stop every task (shell tasks' process groups get SIGTERM, then SIGKILL) and record it
        ``interrupted``; returns when all of them are recorded."""
        lives = list(self._live.values())
        for live in lives:
            self._interrupt(live)
        await asyncio.gather(*(lv.job for lv in lives if lv.job), return_exceptions=True)
        for executor in self.executors.values():
            await executor.close()

    def kill_processes(self) -> None:
        """Stop now: like ``stop`` without a grace period, every shell task's process group gets
        SIGKILL at once. The tasks are still recorded ``interrupted`` by ``stop`` (or by their
        jobs, which this cancels)."""
        for live in list(self._live.values()):
            self._interrupt(live)
            if live.shell is not None:
                live.shell.reap()

    def _interrupt(self, live: LiveTask) -> None:
        if live.stopping:
            return  # cancelled once: a second cancel would cut its clean-up short
        live.stopping = True
        live.control.cancel = True  # a task in a worker thread ends at its next checkpoint
        live.control.release()
        if live.job is not None:
            live.job.cancel()

    # -- starting -----------------------------------------------------------------------------

    async def start_task(
        self,
        *,
        user_id: str,
        task_type: str,
        params: dict[str, Any] | None = None,
        task_id: str | None = None,
        task_fn: TaskFn | None = None,
        title: str | None = None,
        parent: str | None = None,
        spec: TaskSpec | None = None,
    ) -> TaskRecord:
        user_id = check_user_id(user_id)
        params = dict(params or {})
        try:
            orjson.dumps(params)
        except TypeError:
            raise BadRequest("task parameters must be JSON values") from None
        if spec is None and task_fn is not None:
            spec = TaskSpec(task_type, fn=task_fn, title=title)
        elif spec is None:
            spec = self.types.get(task_type)
        if spec.executor != LOCAL and spec.executor not in self.executors:
            raise Unavailable(
                f"task type {task_type!r} runs on {spec.executor}, which this server has not set up"
            )
        if spec.command is not None:
            spec.render_command(params)  # missing parameters fail now, not in the background
        task_id = task_id or f"task_{uuid.uuid4().hex[:10]}"
        if not _TASK_ID.match(task_id):
            raise BadRequest("task_id must be 1-128 characters of letters, digits, _ . : -")
        if task_id in self._live or await self.store.get(task_id) is not None:
            raise Conflict(f"a task with id {task_id} already exists")
        record = TaskRecord(
            task_id,
            user_id,
            task_type,
            params=params,
            title=title or spec.title or "",
            parent=parent,
        )
        await self.store.save(record)
        live = LiveTask(record, spec)
        self._live[task_id] = live
        live.job = asyncio.get_running_loop().create_task(self._run(live), name=task_id)
        return record

    async def wait(self, task_id: str, timeout: float | None = None) -> TaskRecord:
        """Wait until the task is finished; returns its final record."""
        live = self._live.get(task_id)
        if live is not None and live.job is not None:
            async with asyncio.timeout(timeout):
                await asyncio.shield(live.job)
        record = await self.store.get(task_id)
        if record is None:
            raise NotFound(f"no task {task_id}")
        return record

    # -- the person's requests ----------------------------------------------------------------

    async def get(self, task_id: str, caller: Identity) -> TaskRecord:
        live = self._live.get(task_id)
        record = live.record if live is not None else await self.store.get(task_id)
        if record is None:
            raise NotFound(f"no task {task_id}")
        if record.user_id != caller.user_id and not caller.admin:
            raise Forbidden(f"task {task_id} belongs to another user")
        return record

    async def list_tasks(self, caller: Identity, include_finished: bool = True) -> list[TaskRecord]:
        records = await self.store.list_for_user(
            None if caller.admin else caller.user_id, include_finished=include_finished
        )
        return [self._fresh(r) for r in records]

    def live_states(self) -> dict[str, int]:
        """How many of the tasks this process holds (queued, running, paused, cancelling) are in
        each state (for the metrics)."""
        counts: dict[str, int] = {}
        for live in self._live.values():
            state = live.record.state.value
            counts[state] = counts.get(state, 0) + 1
        return counts

    def _fresh(self, record: TaskRecord) -> TaskRecord:
        live = self._live.get(record.task_id)
        return live.record if live is not None else record

    async def _route(
        self, action: str, task_id: str, caller: Identity, record: TaskRecord
    ) -> tuple[TaskRecord, bool]:
        """``(answer, True)`` when another process applied ``action`` (its answer), else
        ``(record as it is now, False)`` to apply it here."""
        if self.elsewhere is None or task_id in self._live or not record.state.active:
            return record, False
        routed = await self.elsewhere.forward(action, task_id, caller)
        if routed is not None:
            return routed, True
        return await self.get(task_id, caller), False  # it ended meanwhile: answer from now

    async def pause(self, task_id: str, caller: Identity) -> TaskRecord:
        record, done = await self._route("pause", task_id, caller, await self.get(task_id, caller))
        if done:
            return record
        live = self._live.get(task_id)
        check_pausable(self.executors, live)
        if record.state is TaskState.PAUSED or record.pause_requested:
            raise Conflict(f"task {task_id} is already paused")
        if record.state is not TaskState.RUNNING or live is None:
            raise Conflict(f"task {task_id} is {record.state.value}; only a running task pauses")
        live.control.request_pause()
        if live.shell is not None:
            live.shell.pause()
            await self._paused(live)
        else:
            await self.book.set(live, live.record.with_(pause_requested=True))
        return live.record

    async def resume(self, task_id: str, caller: Identity) -> TaskRecord:
        record, done = await self._route("resume", task_id, caller, await self.get(task_id, caller))
        if done:
            return record
        live = self._live.get(task_id)
        check_pausable(self.executors, live)
        if live is None or not (record.state is TaskState.PAUSED or record.pause_requested):
            raise Conflict(f"task {task_id} is {record.state.value}; only a paused task resumes")
        live.control.release()
        if live.record.state is TaskState.PAUSED:
            if live.shell is not None:
                live.shell.resume()
            await self.book.change(
                live, live.record.move(TaskState.RUNNING), EventType.TASK_RESUMED
            )
        else:
            await self.book.set(live, live.record.with_(pause_requested=False))
        return live.record

    async def cancel(self, task_id: str, caller: Identity) -> TaskRecord:
        record, done = await self._route("cancel", task_id, caller, await self.get(task_id, caller))
        if done:
            return record
        live = self._live.get(task_id)
        if record.state is TaskState.CANCELLING:
            return record
        if live is None or record.state.terminal:
            raise Conflict(f"task {task_id} already {record.state.value}")
        live.control.cancel = True
        if live.spec.executor != LOCAL:
            return await cancel_elsewhere(self.executors, self.book, live, self.cancel_grace)
        if live.record.state is TaskState.QUEUED:
            cancelled = live.record.move(TaskState.CANCELLED)
            await self.book.finish(live, cancelled, EventType.TASK_CANCELLED)
            return live.record
        await self.book.set(live, live.record.move(TaskState.CANCELLING))
        live.control.release()
        if live.shell is not None:
            live.spawn(live.shell.terminate(self.cancel_grace))
        else:
            job = live.job
            asyncio.get_running_loop().call_later(
                self.cancel_grace, lambda: job.cancel() if job and not job.done() else None
            )
        return live.record

    async def logs(self, task_id: str, caller: Identity, limit: int = 200) -> list[dict[str, Any]]:
        await self.get(task_id, caller)
        live = self._live.get(task_id)
        if live is not None:
            await self.book.flush_log(live)
        lines = await self.store.read_log(task_id, limit)
        return [{"t": t, "line": line} for t, line in lines]

    # -- running ------------------------------------------------------------------------------

    async def _run(self, live: LiveTask) -> None:
        try:
            if live.spec.executor != LOCAL:  # its workers have their own concurrency
                await self._execute_and_report(live)
                return
            async with self._slots:
                if live.record.state.terminal:
                    return  # cancelled while queued
                running = live.record.move(TaskState.RUNNING)
                await self.book.change(live, running, EventType.TASK_STARTED)
                await self._execute_and_report(live)
        except asyncio.CancelledError:
            if live.stopping and not live.record.state.terminal:  # stopped while queued
                record = live.record.move(TaskState.INTERRUPTED, error="the server stopped")
                await asyncio.shield(self.book.finish(live, record, EventType.TASK_INTERRUPTED))
            raise
        finally:
            self._live.pop(live.record.task_id, None)

    async def _execute_and_report(self, live: LiveTask) -> None:
        try:
            result = await self._execute(live)
        except TaskCancelled:
            await self.book.finish(
                live, live.record.move(TaskState.CANCELLED), EventType.TASK_CANCELLED
            )
        except TaskFailed as exc:
            await self._fail(live, str(exc) or "failed")
        except asyncio.CancelledError:
            if live.stopping:
                record = live.record.move(TaskState.INTERRUPTED, error="the server stopped")
                await asyncio.shield(self.book.finish(live, record, EventType.TASK_INTERRUPTED))
                raise
            if not live.control.cancel:
                raise
            await self.book.finish(
                live, live.record.move(TaskState.CANCELLED), EventType.TASK_CANCELLED
            )
        except Exception as exc:
            self.book.on_log(live, f"error: {exc.__class__.__name__}: {exc}")
            await self._fail(live, str(exc) or exc.__class__.__name__)
        else:
            await self.book.finish(
                live,
                live.record.move(TaskState.SUCCEEDED, result=jsonable(result)),
                EventType.TASK_COMPLETED,
            )

    async def _execute(self, live: LiveTask) -> Any:
        spec, record = live.spec, live.record
        if spec.executor != LOCAL:
            return await execute_elsewhere(self.executors, self.book, live)
        if spec.command is not None:
            env = {f"GRACE_PARAM_{k.upper()}": str(v) for k, v in record.params.items()}
            env.update(spec.env, GRACE_TASK_ID=record.task_id, GRACE_USER_ID=record.user_id)
            live.shell = ShellProcess(spec.render_command(record.params), spec.cwd, env)
            return await live.shell.run(lambda line: self.book.on_log(live, line), spec.timeout)
        assert spec.fn is not None
        loop = asyncio.get_running_loop()
        ctx = TaskContext(
            record.task_id,
            record.user_id,
            record.params,
            live.control,
            loop,
            on_progress=lambda f, n: self.book.on_progress(live, f, n),
            on_log=lambda line: self.book.on_log(live, line),
            on_paused=lambda: self._paused(live),
        )
        args = (ctx,) if inspect.signature(spec.fn).parameters else ()
        try:
            async with asyncio.timeout(spec.timeout):
                if inspect.iscoroutinefunction(spec.fn):
                    result = await spec.fn(*args)
                else:
                    result = await asyncio.to_thread(spec.fn, *args)
                    if inspect.isawaitable(result):
                        result = await result
        except TimeoutError:
            raise TaskFailed(f"timed out after {spec.timeout:g}s") from None
        return result

    async def _paused(self, live: LiveTask) -> None:
        if live.record.state is TaskState.RUNNING:
            paused = live.record.move(TaskState.PAUSED, pause_requested=False)
            await self.book.change(live, paused, EventType.TASK_PAUSED)

    async def _fail(self, live: LiveTask, error: str) -> None:
        record = live.record.move(TaskState.FAILED, error=error[:2000])
        await self.book.finish(live, record, EventType.TASK_FAILED)
