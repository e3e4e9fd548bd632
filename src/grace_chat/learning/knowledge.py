"""What the knowledge store holds: documents learned, and the passages a search finds."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from grace_chat.notifications.model import iso_utc_ts


@dataclass(frozen=True, slots=True)
class Document:
    document_id: str
    user_id: str
    name: str
    kind: str
    origin: str
    sha256: str
    size: int
    chars: int
    passages: int
    trust: float
    detail: dict[str, Any] = field(default_factory=dict)
    task_id: str | None = None
    created_at: float = field(default_factory=time.time)

    def info(self) -> dict[str, Any]:
        return {
            "document_id": self.document_id,
            "name": self.name,
            "kind": self.kind,
            "origin": self.origin,
            "size": self.size,
            "chars": self.chars,
            "passages": self.passages,
            "trust": self.trust,
            "trust_detail": self.detail.get("trust", {}),
            "extraction": {k: v for k, v in self.detail.items() if k != "trust"},
            "task_id": self.task_id,
            "created_at": iso_utc_ts(self.created_at),
        }


@dataclass(frozen=True, slots=True)
class Hit:
    document_id: str
    name: str
    ordinal: int
    snippet: str
    score: float
    trust: float

    def info(self) -> dict[str, Any]:
        return {
            "document_id": self.document_id,
            "name": self.name,
            "passage": self.ordinal,
            "snippet": self.snippet,
            "score": round(self.score, 4),
            "trust": self.trust,
        }


def new_document_id() -> str:
    return f"doc_{uuid.uuid4().hex[:12]}"
