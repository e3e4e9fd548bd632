"""Where learning keeps its state: the contracts of the knowledge store and the job store.

Guarantees of a ``KnowledgeStore``: ``add`` stores a document and all its passages at once,
replacing an earlier document of the same user with the same name (a re-ingested file never
leaves stale passages); ``search`` sees only whole documents, ranks passages by relevance and
accepts any text (a query is reduced to plain words, never a syntax error); ``user_id=None``
means every user's documents (admin views), otherwise only that user's.

Guarantees of a ``LearningStore``: the gates (everyone's, ``user_id=None``, and each user's;
running / paused) and every waiting job are durable once the call that changed them returns, so
they survive a restart; ``gates`` returns every gate ever set; ``jobs`` returns waiting jobs
oldest first (the order they start in) and started ones newest first, keeps at most a bounded
number of started jobs and never drops a waiting one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from grace_chat.learning.knowledge import Document, Hit
from grace_chat.learning.model import Gate, JobState, LearningJob


class KnowledgeStore(Protocol):
    async def open(self) -> None: ...

    async def add(self, document: Document, passages: Sequence[str]) -> Document: ...

    async def get(self, document_id: str) -> Document | None: ...

    async def documents(self, user_id: str | None, limit: int = 100) -> list[Document]: ...

    async def passages(self, document_id: str) -> list[str]: ...

    async def search(self, query: str, user_id: str | None, limit: int = 10) -> list[Hit]: ...


class LearningStore(Protocol):
    async def open(self) -> None: ...

    async def gates(self) -> dict[str | None, Gate]:
        """Every gate that was ever set: ``None`` is everyone's, a user id that user's."""
        ...

    async def set_gate(self, user_id: str | None, gate: Gate) -> None:
        """Set everyone's gate (``user_id=None``) or one user's."""
        ...

    async def save(self, job: LearningJob) -> None: ...

    async def get(self, task_id: str) -> LearningJob | None: ...

    async def jobs(
        self, state: JobState, user_id: str | None = None, limit: int = 1000
    ) -> list[LearningJob]: ...

    async def count_waiting(self, user_id: str | None = None) -> int: ...

    async def watch_signatures(self) -> dict[str, str]: ...

    async def set_watch_signature(self, path: str, signature: str) -> None: ...
