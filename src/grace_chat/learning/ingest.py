"""One learning job as a task: read the file, extract its text, split it into passages, score
its trust, index it, and say so (🧠 "Ingested <name>, trust <score>").

Guarantees: a file that cannot be read, parsed or is of an unsupported type fails its own task
with a reason written for the person (never a traceback); an uploaded copy (``job.owned``) is
removed once the task ends, however it ends.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import shutil
from pathlib import Path
from typing import Any

from grace_chat.events import Event, EventBus, EventType
from grace_chat.learning.extract import ExtractionError, extract
from grace_chat.learning.knowledge import Document, new_document_id
from grace_chat.learning.model import LearningJob
from grace_chat.learning.passages import split_passages
from grace_chat.learning.store import KnowledgeStore
from grace_chat.learning.trust import trust_score
from grace_chat.tasks.context import TaskContext, TaskFailed
from grace_chat.tasks.types import TaskFn

log = logging.getLogger("grace_chat.learning")

SOURCE = "learning_supervisor"


def ingest_task(
    job: LearningJob, *, knowledge: KnowledgeStore, bus: EventBus, max_bytes: int
) -> TaskFn:
    """The task function that learns ``job``'s document."""

    async def ingest(ctx: TaskContext) -> dict[str, Any]:
        try:
            return await _ingest(ctx, job, knowledge, bus, max_bytes)
        finally:
            if job.owned:
                await asyncio.to_thread(shutil.rmtree, Path(job.path).parent, ignore_errors=True)

    return ingest


async def _ingest(
    ctx: TaskContext, job: LearningJob, knowledge: KnowledgeStore, bus: EventBus, max_bytes: int
) -> dict[str, Any]:
    ctx.progress(0.0, "reading")
    data = await asyncio.to_thread(read_file, Path(job.path), max_bytes)
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
    await knowledge.add(document, passages)
    ctx.progress(1.0, "indexed")
    await bus.publish(
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


def read_file(path: Path, max_bytes: int) -> bytes:
    """The file's bytes, or ``TaskFailed`` saying why not, in the person's words."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise TaskFailed(f"the file is larger than {max_bytes} bytes")
        return path.read_bytes()
    except FileNotFoundError:
        raise TaskFailed("the file does not exist (any more)") from None
    except IsADirectoryError:
        raise TaskFailed("that is a folder, not a file") from None
    except PermissionError:
        raise TaskFailed("Grace may not read the file (permission denied)") from None
    except OSError as exc:
        raise TaskFailed(f"the file could not be read ({exc.strerror})") from None
