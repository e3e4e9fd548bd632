"""REST for learning and the knowledge store.

``POST /api/learning/documents`` (multipart, one or more ``files``) makes one learning job per
file and answers their task ids; ``GET /api/learning`` is the gate, the waiting queue and recent
jobs; ``GET /api/learning/jobs/{task_id}`` follows one job (``waiting`` until it starts, then its
task's state and progress); ``POST /api/learning/pause`` and ``/resume`` (the caller's own
learning; ``?scope=all``: everyone's, admins only);
``GET /api/knowledge/search?q=&limit=`` finds passages; ``GET /api/knowledge/documents`` lists
what was learned. A caller sees their own jobs and documents (an admin everyone's).
"""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Query, UploadFile
from pydantic import BaseModel, ConfigDict

from grace_chat.api.deps import CallerDependency
from grace_chat.auth import Identity
from grace_chat.commands import CommandContext, CommandRouter
from grace_chat.errors import BadRequest, Forbidden, NotFound, TooLarge
from grace_chat.frames import LearningFrame
from grace_chat.learning.supervisor import LearningSupervisor
from grace_chat.protocol import PauseLearning, ResumeLearning

UPLOAD_PATH = "/api/learning/documents"


class LearningJobView(BaseModel):
    """One learning job: its document, then its task's state and progress."""

    model_config = ConfigDict(extra="allow")
    task_id: str


class LearningUpload(BaseModel):
    state: str
    task_ids: list[str]
    jobs: list[LearningJobView]


class LearningOverview(BaseModel):
    model_config = ConfigDict(extra="allow")
    waiting: list[LearningJobView]
    recent: list[LearningJobView]
    watch: str | None


class SearchResults(BaseModel):
    query: str
    results: list[dict[str, Any]]


class DocumentList(BaseModel):
    documents: list[dict[str, Any]]


class DocumentView(BaseModel):
    model_config = ConfigDict(extra="allow")
    passages: list[Any]


def check_size(upload: UploadFile, limit: int) -> None:
    """Refuse a document over ``limit`` before anything is kept of it."""
    if upload.size is not None and upload.size > limit:
        raise TooLarge(f"{upload.filename or 'the upload'} is larger than {limit} bytes")


def build_learning_router(
    supervisor: LearningSupervisor, commands: CommandRouter, caller: CallerDependency
) -> APIRouter:
    """Pausing and resuming go through ``commands``, as on the socket and in the chat."""
    router = APIRouter()
    Caller = Annotated[Identity, Depends(caller)]

    @router.post(UPLOAD_PATH, status_code=202, tags=["learning"], response_model=LearningUpload)
    async def upload(
        caller: Caller, files: Annotated[list[UploadFile], File(description="documents")]
    ) -> dict[str, Any]:
        """Learn from uploaded documents: one learning job (task) per file.

        The request's body is spooled to disk as it arrives and each document copied from
        there to learning's inbox in chunks: no document is ever held whole in memory.
        """
        if not files:
            raise BadRequest("send at least one file in the 'files' field")
        for upload in files:
            check_size(upload, supervisor.config.max_bytes)
        jobs = [
            await supervisor.submit((upload.filename or "", upload.file), caller.user_id)
            for upload in files
        ]
        return {
            "state": supervisor.state(caller.user_id).value,
            "task_ids": [j.task_id for j in jobs],
            "jobs": [j.info() for j in jobs],
        }

    @router.get("/api/learning", tags=["learning"], response_model=LearningOverview)
    async def overview(
        caller: Caller, recent: Annotated[int, Query(ge=0, le=200)] = 20
    ) -> dict[str, Any]:
        """Learning's state (running / paused), the waiting queue and recent jobs."""
        return await supervisor.overview(caller, recent)

    @router.get("/api/learning/jobs/{task_id}", tags=["learning"], response_model=LearningJobView)
    async def job(task_id: str, caller: Caller) -> dict[str, Any]:
        return await supervisor.job(task_id, caller)

    Scoped = Annotated[
        Literal["own", "all"],
        Query(description="own: the caller's learning; all: everyone's (admin token)"),
    ]

    @router.post(
        "/api/learning/pause",
        tags=["learning"],
        response_model=LearningFrame,
        response_model_exclude_unset=True,
    )
    async def pause(caller: Caller, scope: Scoped = "own") -> dict[str, Any]:
        ctx = CommandContext(identity=caller, channel="rest")
        return await commands.dispatch(ctx, PauseLearning(type="pause_learning", scope=scope))

    @router.post(
        "/api/learning/resume",
        tags=["learning"],
        response_model=LearningFrame,
        response_model_exclude_unset=True,
    )
    async def resume(caller: Caller, scope: Scoped = "own") -> dict[str, Any]:
        ctx = CommandContext(identity=caller, channel="rest")
        return await commands.dispatch(ctx, ResumeLearning(type="resume_learning", scope=scope))

    @router.get("/api/knowledge/search", tags=["knowledge"], response_model=SearchResults)
    async def search(
        caller: Caller,
        q: Annotated[str, Query(min_length=1, max_length=1000)],
        limit: Annotated[int, Query(ge=1, le=50)] = 10,
    ) -> dict[str, Any]:
        """Passages that match ``q`` (ranked), with their document's name and a snippet in
        which the matched words are in ``[brackets]``."""
        user = None if caller.admin else caller.user_id
        hits = await supervisor.knowledge.search(q, user, limit)
        return {"query": q, "results": [h.info() for h in hits]}

    @router.get("/api/knowledge/documents", tags=["knowledge"], response_model=DocumentList)
    async def documents(
        caller: Caller, limit: Annotated[int, Query(ge=1, le=500)] = 100
    ) -> dict[str, Any]:
        user = None if caller.admin else caller.user_id
        docs = await supervisor.knowledge.documents(user, limit)
        return {"documents": [d.info() for d in docs]}

    @router.get(
        "/api/knowledge/documents/{document_id}", tags=["knowledge"], response_model=DocumentView
    )
    async def document(document_id: str, caller: Caller) -> dict[str, Any]:
        doc = await supervisor.knowledge.get(document_id)
        if doc is None:
            raise NotFound(f"no document {document_id}")
        if doc.user_id != caller.user_id and not caller.admin:
            raise Forbidden(f"document {document_id} belongs to another user")
        return {**doc.info(), "passages": await supervisor.knowledge.passages(document_id)}

    return router
