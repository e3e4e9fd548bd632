"""The learning supervisor: documents in, searchable passages out, reported in the chat.

Guarantees:

* ``submit`` makes a learning job. While learning runs, the job is at once a task of type
  ``learning`` in the task runner (same id; it shows in ``list_tasks`` and reports 🚀/✅/❌ like
  every task). On success the knowledge store holds the document's passages and the owner gets
  🧠 "Ingested <name>, trust <score>". A file that cannot be read, parsed or is of an unsupported
  type fails its own job with the reason; the supervisor keeps working.
* Learning is a gate, ``running ⇄ paused``. Paused, no new learning job starts: a job submitted
  then waits, stored, in submission order, and starts on resume. Jobs already started finish.
  The gate and the waiting jobs are durable: after a restart learning is still paused and the
  same jobs still wait. (A job handed to the runner may still sit ``queued`` there when every task
  slot is busy; it counts as started.)
* Pausing and resuming tell the person who did it: ⏸️ "Learning jobs paused. Grace will not
  start new learning tasks." and ▶️ "Learning resumed.". Asking for the state it is already in
  changes nothing and sends nothing.
* A watched folder (``[learning] watch``) is scanned every ``watch_interval`` seconds; a new or
  changed file of a supported type is submitted once it has been stable for one scan
  (``grace.learning.watcher``).

The job itself (read, extract, split, score, index) is ``grace.learning.ingest``; what a job
reads, ``grace.learning.uploads``; where the state lives, the ``grace.learning.store`` contracts.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from pathlib import Path
from typing import Any, BinaryIO

from grace.auth import Identity
from grace.errors import Conflict, Forbidden, NotFound
from grace.events import Event, EventBus, EventType
from grace.learning.config import LearningConfig
from grace.learning.ingest import SOURCE, ingest_task
from grace.learning.model import Gate, GateState, JobState, LearningJob
from grace.learning.store import KnowledgeStore, LearningStore
from grace.learning.uploads import absolute, keep_upload, keep_upload_file, safe_name
from grace.learning.watcher import FolderWatcher
from grace.status import listed
from grace.tasks.model import TaskRecord
from grace.tasks.runner import TaskRunner

log = logging.getLogger("grace.learning")

TASK_TYPE = "learning"
PAUSED_MESSAGE = "Learning jobs paused. Grace will not start new learning tasks."
RESUMED_MESSAGE = "Learning resumed."


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
    ) -> None:
        self.config = config
        self.knowledge = knowledge
        self.store = jobs
        self.runner = runner
        self.bus = bus
        self.gate = Gate()
        self._lock = asyncio.Lock()
        self.watcher = (
            FolderWatcher(config.watch, config.watch_interval, jobs, self._submit_watched)
            if config.watch is not None
            else None
        )

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        await self.knowledge.open()
        await self.store.open()
        self.gate = await self.store.gate()
        if not self.gate.paused:
            async with self._lock:
                for job in await self.store.jobs(JobState.WAITING):
                    await self._dispatch(job)
        if self.watcher is not None:
            self.watcher.start()

    async def stop(self) -> None:
        if self.watcher is not None:
            await self.watcher.stop()

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
            if not self.gate.paused:
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

    # -- the gate -----------------------------------------------------------------------------

    async def pause(self, user_id: str) -> bool:
        """Stop new learning jobs from starting; ``False`` when learning was already paused."""
        async with self._lock:
            if self.gate.paused:
                return False
            self.gate = Gate(GateState.PAUSED, time.time(), user_id)
            await self.store.set_gate(self.gate)
            waiting = await self.store.count_waiting()
            await self._tell(user_id, "learning_paused", PAUSED_MESSAGE, waiting=waiting)
        return True

    async def resume(self, user_id: str) -> bool:
        """Let learning jobs start again, the waiting ones first; ``False`` if it was running."""
        async with self._lock:
            if not self.gate.paused:
                return False
            self.gate = Gate(GateState.RUNNING, time.time(), user_id)
            await self.store.set_gate(self.gate)
            waiting = await self.store.jobs(JobState.WAITING)
            await self._tell(user_id, "learning_resumed", RESUMED_MESSAGE, starting=len(waiting))
            for job in waiting:
                await self._dispatch(job)
        return True

    async def _tell(self, user_id: str, kind: str, message: str, **data: Any) -> None:
        await self.bus.publish(
            Event(
                EventType.LEARNING_OUTCOME,
                source=SOURCE,
                data={"type": kind, "message": message, "user_id": user_id, **data},
            )
        )

    async def frame(self) -> dict[str, Any]:
        return {
            "type": "learning",
            "state": self.gate.state.value,
            "waiting": await self.store.count_waiting(),
        }

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
            **self.gate.info(),
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
        sentence = f"Learning is {self.gate.state.value}"
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
            **self.gate.info(),
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
