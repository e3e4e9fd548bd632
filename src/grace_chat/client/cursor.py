"""Where a stream stands, so that it resumes exactly there: ``Cursor`` and its stores.

A cursor is the server's ``epoch`` and the last ``seq`` handled in it. ``CursorStore`` keeps one
across the consumer's own restarts.

Guarantees of a ``CursorStore``: ``load`` returns the cursor last passed to ``save`` (``None``
before the first), also in a new process for a durable store; a ``save`` that returned is not
lost by a crash that follows (``FileCursorStore`` writes a new file and renames it over the old
one, so a crash leaves the old cursor or the new one, never half of one).
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class Cursor:
    #: The server log's epoch the ``seq`` belongs to; ``None``: not known yet (accept any).
    epoch: str | None = None
    #: The last seq handled; ``None``: nothing yet (start with what comes live).
    seq: int | None = None


@runtime_checkable
class CursorStore(Protocol):
    async def load(self) -> Cursor | None: ...

    async def save(self, cursor: Cursor) -> None: ...


class MemoryCursorStore:
    """A cursor kept in memory: resumes across reconnects, not across process restarts."""

    def __init__(self, cursor: Cursor | None = None) -> None:
        self.cursor = cursor

    async def load(self) -> Cursor | None:
        return self.cursor

    async def save(self, cursor: Cursor) -> None:
        self.cursor = cursor


class FileCursorStore:
    """A cursor in a small JSON file: a service restarting resumes where it stopped."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    async def load(self) -> Cursor | None:
        return await asyncio.to_thread(self._load)

    async def save(self, cursor: Cursor) -> None:
        await asyncio.to_thread(self._save, cursor)

    def _load(self) -> Cursor | None:
        try:
            value = json.loads(self.path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise ValueError(f"cursor file {self.path} cannot be read: {exc}") from None
        epoch, seq = value.get("epoch"), value.get("seq")
        if not (epoch is None or isinstance(epoch, str)) or not (
            seq is None or (isinstance(seq, int) and seq >= 0)
        ):
            raise ValueError(f"cursor file {self.path} does not hold a cursor")
        return Cursor(epoch, seq)

    def _save(self, cursor: Cursor) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with tmp.open("w") as fh:
            json.dump({"epoch": cursor.epoch, "seq": cursor.seq}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
