"""The learning supervisor: documents in, searchable passages out, reported in the chat.

Guarantees:

* ``submit`` makes a learning job. While learning runs, the job is at once a task of type
  ``learning`` in the task runner (same id; it shows in ``list_tasks`` and reports 🚀/✅/❌ like
  every task). On success the knowledge store holds the document's passages and the owner gets
  🧠 "Ingested <name>, trust <score>". A file that cannot be read, parsed or is of an unsupported
  type fails its own job with the reason; the supervisor keeps working.
* Learning is gated, ``running ⇄ paused``, per user: a person's pause holds that person's jobs
  only; everyone's gate (``Scope.ALL``, which only an admin may change) holds every job, the
  watched folder's included. A job whose owner's gate or everyone's is paused does not start: it
  waits, stored, in submission order, and starts once both are running. Jobs already started
  finish. The gates and the waiting jobs are durable: after a restart the same gates are paused
  and the same jobs still wait. (A job handed to the runner may still sit ``queued`` there when
  every task slot is busy; it counts as started.)
* Pausing and resuming tell the person who did it: ⏸️ "Learning jobs paused. Grace will not
  start new learning tasks." and ▶️ "Learning resumed.". Asking for the state a gate is already
  in changes nothing and sends nothing. Anyone but an admin asking about everyone's gate is
  ``forbidden``, whichever door they use.
* A watched folder (``[learning] watch``) is scanned every ``watch_interval`` seconds; a new or
  changed file of a supported type is submitted once it has been stable for one scan
  (``grace_chat.learning.watcher``).

In a cluster (``signals`` given) the gates live in the shared store: a pause, a resume and a
submission read them there first, so whichever process gets the command answers as one process
would, and each change is signalled so every process's view (status, the watched folder) follows.

The job itself (read, extract, split, score, index) is ``grace_chat.learning.ingest``; what a job
reads, ``grace_chat.learning.uploads``; where the state lives, the
``grace_chat.learning.store`` contracts.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from pathlib import Path
from typing import Any, BinaryIO

from grace_chat.auth import Identity
from grace_chat.cluster import Signals
from grace_chat.errors import Conflict, Forbidden, NotFound
from grace_chat.events import Event, EventBus, EventType
from grace_chat.learning.config import LearningConfig
from grace_chat.learning.ingest import SOURCE, ingest_task
from grace_chat.learning.model import Gate, GateState, JobState, LearningJob, Scope
from grace_chat.learning.store import KnowledgeStore, LearningStore
from grace_chat.learning.uploads import absolute, keep_upload, keep_upload_file, safe_name
from grace_chat.learning.watcher import FolderWatcher
from grace_chat.status import listed
from grace_chat.tasks.model import TaskRecord
from grace_chat.tasks.runner import TaskRunner

log = logging.getLogger("grace_chat.learning")

TASK_TYPE = "learning"
#: The topic of the cluster's signals about the gates (payload: the user, ``*`` for everyone).
TOPIC = "learning"
PAUSED_MESSAGE = "Learning jobs paused. Grace will not start new learning tasks."
RESUMED_MESSAGE = "Learning resumed."
PAUSED_ALL_MESSAGE = "Learning paused for everyone. Grace will not start new learning tasks."
RESUMED_ALL_MESSAGE = "Learning resumed for everyone."


class LearningSupervisor:
    name = "learning"

    def __init__(
        self,
        config: LearningConfig,
        *,
        knowledge: KnowledgeStore,
        jobs: LearningStore,
        runner: TaskRunner,
        bus: EventBus,
        signals: Signals | None = None,
    ) -> None:
        self.config = config
        self.signals = signals
        self.knowledge = knowledge
        self.store = jobs
        self.runner = runner
        self.bus = bus
        #: Everyone's gate, and the gates users set for their own learning.
        self._everyone = Gate()
        self._users: dict[str, Gate] = {}
        self._lock = asyncio.Lock()
        self._reloads: set[asyncio.Task[None]] = set()
        if signals is not None:
            signals.subscribe(TOPIC, self._heard)
        self.watcher = (
            FolderWatcher(config.watch, config.watch_interval, jobs, self._submit_watched)
            if config.watch is not None
            else None
        )

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        await self.knowledge.open()
        await self.store.open()
        await self._reload()
        if not self._everyone.paused:
            async with self._lock:
                for job in await self.store.jobs(JobState.WAITING):
                    if not self.held(job.user_id):
                        await self._dispatch(job)
        if self.watcher is not None:
            self.watcher.start()

    async def stop(self) -> None:
        if self.watcher is not None:
            await self.watcher.stop()
        for reload in list(self._reloads):
            reload.cancel()

    async def _reload(self) -> None:
        """The gates as stored (another process of a cluster may have moved them)."""
        gates = await self.store.gates()
        self._everyone = gates.pop(None, Gate())
        self._users = {user: gate for user, gate in gates.items() if user is not None}

    async def _fresh(self) -> None:
        if self.signals is not None:
            await self._reload()

    def _heard(self, payload: str) -> None:
        reload = asyncio.get_running_loop().create_task(self._reload())
        self._reloads.add(reload)
        reload.add_done_callback(self._reloads.discard)

    # -- submitting ---------------------------------------------------------------------------

    async def submit(
        self,
        source: str | Path | tuple[str, bytes | BinaryIO],
        user_id: str,
        *,
        origin: str | None = None,
    ) -> LearningJob:
        """Make a learning job of a file (by path) or of an upload (``(name, data)``: bytes, or
        a file that is copied into the inbox in chunks)."""
        task_id = f"learn_{uuid.uuid4().hex[:12]}"
        if isinstance(source, tuple):
            name, data = source
            inbox, limit = self.config.inbox, self.config.max_bytes
            if isinstance(data, bytes):
                path = await asyncio.to_thread(keep_upload, inbox, task_id, name, data, limit)
            else:
                path = await asyncio.to_thread(keep_upload_file, inbox, task_id, name, data, limit)
            job = LearningJob(
                task_id, user_id, path.name, str(path), origin or "upload", owned=True
            )
        else:
            path = absolute(source)
            job = LearningJob(task_id, user_id, safe_name(path.name), str(path), origin or "path")
        async with self._lock:
            await self.store.save(job)
            await self._fresh()
            if not self.held(job.user_id):
                job = await self._dispatch(job)
        return job

    async def _dispatch(self, job: LearningJob) -> LearningJob:
        """Hand a job to the task runner (under ``_lock``, with learning running)."""
        try:
            await self.runner.start_task(
                user_id=job.user_id,
                task_type=TASK_TYPE,
                task_fn=ingest_task(
                    job, knowledge=self.knowledge, bus=self.bus, max_bytes=self.config.max_bytes
                ),
                task_id=job.task_id,
                title=f"Ingest {job.name}",
                params={"name": job.name, "origin": job.origin},
            )
        except Conflict:
            log.warning("learning job %s was already handed to the runner", job.task_id)
        started = job.started()
        await self.store.save(started)
        return started

    # -- the gates ----------------------------------------------------------------------------

    def gate(self, user_id: str | None = None) -> Gate:
        """One user's own gate, or (``None``) everyone's."""
        if user_id is None:
            return self._everyone
        return self._users.get(user_id, Gate())

    def held(self, user_id: str) -> bool:
        """Whether ``user_id``'s new learning jobs wait: their own gate or everyone's is paused."""
        return self._everyone.paused or self.gate(user_id).paused

    def state(self, user_id: str) -> GateState:
        """Whether ``user_id``'s learning runs, both gates considered."""
        return GateState.PAUSED if self.held(user_id) else GateState.RUNNING

    @staticmethod
    def _scoped(caller: Identity, scope: Scope) -> str | None:
        """The gate ``caller`` asks about: their own, or everyone's (admins only)."""
        if scope is Scope.OWN:
            return caller.user_id
        if not caller.admin:
            raise Forbidden(
                "only an admin may pause or resume everyone's learning; "
                "pausing without scope 'all' pauses your own"
            )
        return None

    async def pause(self, caller: Identity, scope: Scope = Scope.OWN) -> bool:
        """Stop new learning jobs from starting: the caller's, or (``Scope.ALL``, admins)
        everyone's. ``False`` when that gate was already paused."""
        user = self._scoped(caller, scope)
        async with self._lock:
            await self._fresh()
            if self.gate(user).paused:
                return False
            await self._set(user, Gate(GateState.PAUSED, time.time(), caller.user_id))
            waiting = await self.store.count_waiting(user)
            message = PAUSED_MESSAGE if user is not None else PAUSED_ALL_MESSAGE
            await self._tell(
                caller.user_id, "learning_paused", message, waiting=waiting, scope=scope.value
            )
        return True

    async def resume(self, caller: Identity, scope: Scope = Scope.OWN) -> bool:
        """Let learning jobs start again, the waiting ones first (oldest first): the caller's, or
        (``Scope.ALL``, admins) everyone's. ``False`` if that gate was running. A job still held
        by the other gate keeps waiting."""
        user = self._scoped(caller, scope)
        async with self._lock:
            await self._fresh()
            if not self.gate(user).paused:
                return False
            await self._set(user, Gate(GateState.RUNNING, time.time(), caller.user_id))
            ready = [
                j for j in await self.store.jobs(JobState.WAITING, user) if not self.held(j.user_id)
            ]
            message = RESUMED_MESSAGE if user is not None else RESUMED_ALL_MESSAGE
            await self._tell(
                caller.user_id, "learning_resumed", message, starting=len(ready), scope=scope.value
            )
            for job in ready:
                await self._dispatch(job)
        return True

    async def _set(self, user_id: str | None, gate: Gate) -> None:
        await self.store.set_gate(user_id, gate)
        if user_id is None:
            self._everyone = gate
        else:
            self._users[user_id] = gate
        if self.signals is not None:
            await self.signals.signal(TOPIC, user_id or "*")

    async def _tell(self, user_id: str, kind: str, message: str, **data: Any) -> None:
        await self.bus.publish(
            Event(
                EventType.LEARNING_OUTCOME,
                source=SOURCE,
                data={"type": kind, "message": message, "user_id": user_id, **data},
            )
        )

    async def frame(self, caller: Identity, scope: Scope = Scope.OWN) -> dict[str, Any]:
        """The reply to ``pause_learning`` / ``resume_learning``: that gate's state, the jobs
        waiting in its scope, and (``effective``) whether the caller's own learning runs."""
        user = self._scoped(caller, scope)
        return {
            "type": "learning",
            "scope": scope.value,
            "state": self.gate(user).state.value,
            "waiting": await self.store.count_waiting(user),
            "effective": self.state(caller.user_id).value,
        }

    def gates_view(self, caller: Identity) -> dict[str, Any]:
        """The caller's learning state (``state``: both gates considered; ``changed_at`` and
        ``changed_by``: their own gate's last change), their own gate, everyone's, and for an
        admin every user's gate that is paused."""
        own = self.gate(caller.user_id)
        view: dict[str, Any] = {
            "state": self.state(caller.user_id).value,
            "changed_at": own.info()["changed_at"],
            "changed_by": own.changed_by,
            "own": own.info(),
            "everyone": self._everyone.info(),
        }
        if caller.admin:
            view["paused_users"] = sorted(u for u, g in self._users.items() if g.paused)
        return view

    # -- what it is doing ---------------------------------------------------------------------

    async def job_view(self, job: LearningJob, caller: Identity) -> dict[str, Any]:
        view = job.info()
        if job.state is JobState.WAITING:
            view.update(progress=None, note="waiting for learning to resume", error=None)
            view["result"] = None
            return view
        record: TaskRecord | None
        try:
            record = await self.runner.get(job.task_id, caller)
        except (NotFound, Forbidden):
            record = None
        if record is None:
            view.update(state="unknown", progress=None, note=None, error=None, result=None)
            return view
        view.update(
            state=record.state.value,
            progress=record.progress,
            note=record.note,
            error=record.error,
            result=record.result,
            finished_at=record.info()["finished_at"],
        )
        return view

    async def job(self, task_id: str, caller: Identity) -> dict[str, Any]:
        job = await self.store.get(task_id)
        if job is None:
            raise NotFound(f"no learning job {task_id}")
        if job.user_id != caller.user_id and not caller.admin:
            raise Forbidden(f"learning job {task_id} belongs to another user")
        return await self.job_view(job, caller)

    async def overview(self, caller: Identity, recent: int = 20) -> dict[str, Any]:
        user = None if caller.admin else caller.user_id
        waiting = await self.store.jobs(JobState.WAITING, user)
        started = await self.store.jobs(JobState.STARTED, user, limit=recent)
        return {
            **self.gates_view(caller),
            "waiting": [await self.job_view(j, caller) for j in waiting],
            "recent": [await self.job_view(j, caller) for j in started],
            "watch": str(self.config.watch) if self.config.watch else None,
        }

    async def status(self, caller: Identity) -> tuple[dict[str, Any], str | None]:
        user = None if caller.admin else caller.user_id
        waiting = await self.store.jobs(JobState.WAITING, user)
        active = [
            r
            for r in await self.runner.list_tasks(caller, include_finished=False)
            if r.task_type == TASK_TYPE
        ]
        sentence = f"Learning is {self.state(caller.user_id).value}"
        if self._everyone.paused:
            sentence += " for everyone"
        if active:
            described = [
                f"{r.params.get('name', r.task_id)}"
                + (f" ({round(r.progress * 100)}%)" if r.progress is not None else "")
                for r in active
            ]
            sentence += f", ingesting {listed(described)}"
        if waiting:
            noun = "document" if len(waiting) == 1 else "documents"
            sentence += f"; {len(waiting)} {noun} waiting"
        data = {
            **self.gates_view(caller),
            "waiting": [j.info() for j in waiting],
            "active": [r.info() for r in active],
        }
        return data, sentence + "."

    async def scan(self) -> list[LearningJob]:
        """One pass over the watched folder now (none configured: nothing); returns the jobs
        it submitted."""
        return await self.watcher.scan() if self.watcher is not None else []

    async def _submit_watched(self, path: str) -> LearningJob:
        return await self.submit(path, self.config.watch_user, origin="watch")
