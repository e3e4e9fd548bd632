"""The watched folder (``[learning] watch``): new or changed documents are learned by themselves.

Guarantees: the folder is scanned every ``interval`` seconds; a file of a supported type, not
hidden, is submitted once it has stayed the same (modification time and size) for one whole
scan, and once only per version: what was submitted is remembered in the learning store, so a
restart does not learn the same version again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from grace_chat.learning.extract import KINDS
from grace_chat.learning.model import LearningJob
from grace_chat.learning.store import LearningStore

log = logging.getLogger("grace_chat.learning")

#: ``(path) -> job``: how the watcher hands a file to the supervisor.
Submit = Callable[[str], Awaitable[LearningJob]]


class FolderWatcher:
    def __init__(self, folder: Path, interval: float, store: LearningStore, submit: Submit) -> None:
        self.folder = folder
        self.interval = interval
        self.store = store
        self.submit = submit
        self._previous: dict[str, str] = {}
        self._loop: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
            self._loop = None

    async def _run(self) -> None:
        while True:
            try:
                await self.scan()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("scanning the watched folder failed")
            await asyncio.sleep(self.interval)

    async def scan(self) -> list[LearningJob]:
        """One pass over the folder; returns the jobs it submitted."""
        current = await asyncio.to_thread(signatures, self.folder)
        known = await self.store.watch_signatures()
        previous, self._previous = self._previous, current
        jobs = []
        for path, signature in sorted(current.items()):
            if known.get(path) == signature or previous.get(path) != signature:
                continue  # already learned, or still changing (or first seen: wait one scan)
            await self.store.set_watch_signature(path, signature)
            jobs.append(await self.submit(path))
        return jobs


def signatures(folder: Path) -> dict[str, str]:
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
