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
  changed file of a supported type is submitted once it has been stable for one scan.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import shutil
import time
import uuid
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

from grace.auth import Identity
from grace.commands import CommandContext
from grace.errors import BadRequest, ConfigError, Conflict, Forbidden, NotFound, TooLarge
from grace.events import Event, EventType
from grace.learning.config import LearningConfig
from grace.learning.extract import KINDS, ExtractionError, extract
from grace.learning.model import Gate, GateState, JobState, LearningJob
from grace.learning.passages import split_passages
from grace.learning.trust import trust_score
from grace.protocol import PauseLearning, ResumeLearning
from grace.store.backends.sqlite_db import SQLiteDatabase
from grace.store.backends.sqlite_knowledge import Document, SQLiteKnowledgeStore, new_document_id
from grace.store.backends.sqlite_learning import SQLiteLearningStore
from grace.tasks.context import TaskContext, TaskFailed
from grace.tasks.model import TaskRecord
from grace.tasks.types import TaskFn

if TYPE_CHECKING:
    from fastapi import APIRouter

    from grace.app import Grace

log = logging.getLogger("grace.learning")

TASK_TYPE = "learning"
SOURCE = "learning_supervisor"
PAUSED_MESSAGE = "Learning jobs paused. Grace will not start new learning tasks."
RESUMED_MESSAGE = "Learning resumed."


def shared_database(grace: Grace) -> SQLiteDatabase:
    db = getattr(grace.store, "db", None)
    if not isinstance(db, SQLiteDatabase):
        raise ConfigError("the knowledge store needs the embedded SQLite engine")
    return db


def safe_name(name: str) -> str:
    """The file name part of an uploaded name, without directories or control characters."""
    base = PurePath(name.replace("\\", "/")).name
    base = "".join(ch for ch in base if ch.isprintable()).strip()
    if not base or base in {".", ".."}:
        raise BadRequest("a document needs a file name")
    return base[:200]


class LearningSupervisor:
    name = "learning"

    def __init__(self, grace: Grace, config: LearningConfig) -> None:
        self.grace = grace
        self.config = config
        db = shared_database(grace)
        self.knowledge = SQLiteKnowledgeStore(db)
        self.store = SQLiteLearningStore(db)
        self.gate = Gate()
        self._lock = asyncio.Lock()
        self._watcher: asyncio.Task[None] | None = None
        self._previous_scan: dict[str, str] = {}
        grace.commands.register("pause_learning", self._pause_command)
        grace.commands.register("resume_learning", self._resume_command)
        grace.status_board.add("learning", self._status)

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        await self.knowledge.open()
        await self.store.open()
        self.gate = await self.store.gate()
        if not self.gate.paused:
            async with self._lock:
                for job in await self.store.jobs(JobState.WAITING):
                    await self._dispatch(job)
        if self.config.watch is not None:
            self._watcher = asyncio.get_running_loop().create_task(self._watch_loop())

    async def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None

    def routes(self) -> APIRouter | None:
        from grace.learning.routes import build_learning_router

        return build_learning_router(self)

    # -- submitting ---------------------------------------------------------------------------

    async def submit(
        self, source: str | Path | tuple[str, bytes], user_id: str, *, origin: str | None = None
    ) -> LearningJob:
        """Make a learning job of a file (by path) or of uploaded bytes (``(name, data)``)."""
        task_id = f"learn_{uuid.uuid4().hex[:12]}"
        if isinstance(source, tuple):
            name, data = safe_name(source[0]), source[1]
            if len(data) > self.config.max_bytes:
                raise TooLarge(f"{name} is larger than {self.config.max_bytes} bytes")
            path = self.config.inbox / task_id / name
            await asyncio.to_thread(_write, path, data)
            job = LearningJob(task_id, user_id, name, str(path), origin or "upload", owned=True)
        else:
            path = _absolute(source)
            job = LearningJob(task_id, user_id, safe_name(path.name), str(path), origin or "path")
        async with self._lock:
            await self.store.save(job)
            if not self.gate.paused:
                job = await self._dispatch(job)
        return job

    async def _dispatch(self, job: LearningJob) -> LearningJob:
        """Hand a job to the task runner (under ``_lock``, with learning running)."""
        try:
            await self.grace.tasks.start_task(
                user_id=job.user_id,
                task_type=TASK_TYPE,
                task_fn=self._job_fn(job),
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
        await self.grace.event_bus.publish(
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

    async def _pause_command(self, ctx: CommandContext, cmd: PauseLearning) -> dict[str, Any]:
        changed = await self.pause(ctx.identity.user_id)
        return {**await self.frame(), "changed": changed}

    async def _resume_command(self, ctx: CommandContext, cmd: ResumeLearning) -> dict[str, Any]:
        changed = await self.resume(ctx.identity.user_id)
        return {**await self.frame(), "changed": changed}

    # -- what it is doing ---------------------------------------------------------------------

    async def job_view(self, job: LearningJob, caller: Identity) -> dict[str, Any]:
        view = job.info()
        if job.state is JobState.WAITING:
            view.update(progress=None, note="waiting for learning to resume", error=None)
            view["result"] = None
            return view
        record: TaskRecord | None
        try:
            record = await self.grace.tasks.get(job.task_id, caller)
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

    async def _status(self, caller: Identity) -> tuple[dict[str, Any], str | None]:
        user = None if caller.admin else caller.user_id
        waiting = await self.store.jobs(JobState.WAITING, user)
        active = [
            r
            for r in await self.grace.tasks.list_tasks(caller, include_finished=False)
            if r.task_type == TASK_TYPE
        ]
        sentence = f"Learning is {self.gate.state.value}"
        if active:
            described = [
                f"{r.params.get('name', r.task_id)}"
                + (f" ({round(r.progress * 100)}%)" if r.progress is not None else "")
                for r in active
            ]
            shown = ", ".join(described[:3]) + (
                f" and {len(described) - 3} more" if len(described) > 3 else ""
            )
            sentence += f", ingesting {shown}"
        if waiting:
            noun = "document" if len(waiting) == 1 else "documents"
            sentence += f"; {len(waiting)} {noun} waiting"
        data = {
            **self.gate.info(),
            "waiting": [j.info() for j in waiting],
            "active": [r.info() for r in active],
        }
        return data, sentence + "."

    # -- one job ------------------------------------------------------------------------------

    def _job_fn(self, job: LearningJob) -> TaskFn:
        async def ingest(ctx: TaskContext) -> dict[str, Any]:
            try:
                return await self._ingest(ctx, job)
            finally:
                if job.owned:
                    await asyncio.to_thread(
                        shutil.rmtree, Path(job.path).parent, ignore_errors=True
                    )

        return ingest

    async def _ingest(self, ctx: TaskContext, job: LearningJob) -> dict[str, Any]:
        ctx.progress(0.0, "reading")
        data = await asyncio.to_thread(self._read, job)
        ctx.log(f"read {len(data)} bytes of {job.name}")
        ctx.progress(0.1, "extracting text")
        try:
            extracted = await asyncio.to_thread(extract, job.name, data)
        except ExtractionError as exc:
            raise TaskFailed(str(exc)) from None
        except Exception:
            log.exception("extracting text from %s failed", job.name)
            raise TaskFailed("the document could not be parsed") from None
        for warning in extracted.warnings:
            ctx.log(f"warning: {warning}")
        await ctx.checkpoint()
        ctx.progress(0.6, "splitting into passages")
        passages = split_passages(extracted.text)
        score, terms = trust_score(extracted)
        ctx.progress(0.8, f"indexing {len(passages)} passages")
        document = Document(
            document_id=new_document_id(),
            user_id=job.user_id,
            name=job.name,
            kind=extracted.kind,
            origin=job.origin,
            sha256=hashlib.sha256(data).hexdigest(),
            size=len(data),
            chars=len(extracted.text),
            passages=len(passages),
            trust=score,
            detail={
                "trust": terms,
                "warnings": list(extracted.warnings[:20]),
                "title": extracted.title,
                **extracted.detail,
            },
            task_id=job.task_id,
        )
        await self.knowledge.add(document, passages)
        ctx.progress(1.0, "indexed")
        await self.grace.event_bus.publish(
            Event(
                EventType.LEARNING_OUTCOME,
                source=SOURCE,
                data={
                    "action": "learning_complete",
                    "source": job.name,
                    "trust": score,
                    "user_id": job.user_id,
                    "document_id": document.document_id,
                    "passages": len(passages),
                    "task_id": job.task_id,
                    "kind": extracted.kind,
                },
            )
        )
        return {
            "document_id": document.document_id,
            "name": job.name,
            "kind": extracted.kind,
            "passages": len(passages),
            "trust": score,
            "warnings": list(extracted.warnings[:20]),
        }

    def _read(self, job: LearningJob) -> bytes:
        path = Path(job.path)
        try:
            size = path.stat().st_size
            if size > self.config.max_bytes:
                raise TaskFailed(f"the file is larger than {self.config.max_bytes} bytes")
            return path.read_bytes()
        except FileNotFoundError:
            raise TaskFailed("the file does not exist (any more)") from None
        except IsADirectoryError:
            raise TaskFailed("that is a folder, not a file") from None
        except PermissionError:
            raise TaskFailed("Grace may not read the file (permission denied)") from None
        except OSError as exc:
            raise TaskFailed(f"the file could not be read ({exc.strerror})") from None

    # -- the watched folder -------------------------------------------------------------------

    async def _watch_loop(self) -> None:
        while True:
            try:
                await self.scan()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("scanning the watched folder failed")
            await asyncio.sleep(self.config.watch_interval)

    async def scan(self) -> list[LearningJob]:
        """One pass over the watched folder; returns the jobs it submitted."""
        folder = self.config.watch
        if folder is None:
            return []
        current = await asyncio.to_thread(_signatures, folder)
        known = await self.store.watch_signatures()
        previous, self._previous_scan = self._previous_scan, current
        jobs = []
        for path, signature in sorted(current.items()):
            if known.get(path) == signature or previous.get(path) != signature:
                continue  # already learned, or still changing (or first seen: wait one scan)
            await self.store.set_watch_signature(path, signature)
            jobs.append(await self.submit(path, self.config.watch_user, origin="watch"))
        return jobs


def _absolute(source: str | Path) -> Path:
    return Path(os.path.abspath(os.path.expanduser(source)))


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _signatures(folder: Path) -> dict[str, str]:
    """``path → "mtime_ns:size"`` of every supported, non-hidden file under ``folder``."""
    found: dict[str, str] = {}
    if not folder.is_dir():
        return found
    for path in folder.rglob("*"):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.suffix.lower() not in KINDS or not path.is_file():
            continue
        with contextlib.suppress(OSError):
            stat = path.stat()
            found[str(path)] = f"{stat.st_mtime_ns}:{stat.st_size}"
    return found


def install(grace: Grace) -> LearningSupervisor:
    """Build the learning supervisor from ``[learning]`` and add it to ``grace`` (once: a
    second call returns the supervisor already installed)."""
    for component in grace.components:
        if isinstance(component, LearningSupervisor):
            return component
    config = LearningConfig.from_section(
        grace.settings.section("learning"),
        data_dir=grace.settings.data_dir,
        default_user=grace.settings.default_user,
    )
    supervisor = LearningSupervisor(grace, config)
    grace.add_component(supervisor)
    return supervisor
