"""The embedded engine's connection to its SQLite file: one writer thread, a pool of readers.

Guarantees: every ``write`` runs on the one writer thread, in the order submitted, so the writer
may keep state (``seq`` counters) without locks; reads run concurrently on read-only connections
(WAL) and see only committed data; a lock file next to the database keeps a second process out.
WAL checkpoints run on a thread of their own (at most one every ``CHECKPOINT_SECONDS`` while
there are writes), never inside a commit, so copying the log back into the database file does
not stall the writes waiting behind it.

The database and the files beside it (``-wal``, ``-shm``, ``.lock``) are readable and writable
by their owner only (0600; SQLite gives ``-wal`` and ``-shm`` the mode of the database file), and
a directory the database needs is created 0700. ``make_private`` does the same for a whole data
directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, TypeVar

from grace.errors import ConfigError

T = TypeVar("T")
log = logging.getLogger("grace.store.sqlite")

CHECKPOINT_SECONDS = 0.25
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
_SIDE_FILES = ("", "-wal", "-shm", "-journal", ".lock")


def make_private(directory: Path) -> None:
    """Create ``directory`` 0700, or take every group and other permission away from it and from
    everything in it. Owner permissions stay as they are; symbolic links are neither changed nor
    followed. Raises ``OSError`` if the directory cannot be created; a mode that cannot be
    changed is logged."""
    directory.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    _take_away_group_and_other(directory)
    for root, dirs, files in os.walk(directory, onerror=_walk_error):
        for name in dirs + files:
            _take_away_group_and_other(Path(root, name))


def _take_away_group_and_other(path: Path) -> None:
    try:
        info = path.lstat()
        if not stat.S_ISLNK(info.st_mode) and info.st_mode & 0o077:
            os.chmod(path, stat.S_IMODE(info.st_mode) & ~0o077)
    except FileNotFoundError:
        return  # not there (yet), or went away meanwhile
    except OSError as exc:
        log.warning("cannot make %s private: %s", path, exc)


def _walk_error(exc: OSError) -> None:
    log.warning("cannot make %s private: %s", exc.filename, exc)


def _create_private(path: Path) -> None:
    """Create ``path`` (empty) 0600 if it is missing, else take group and other permissions
    away from it (a failure to is logged: the database still opens)."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    _take_away_group_and_other(path)


class SQLiteDatabase:
    """A SQLite file with one writer thread and a pool of reader threads."""

    def __init__(
        self, path: Path, synchronous: str = "FULL", readers: int = 2, cache_mib: int = 64
    ) -> None:
        self.path = path
        self._cache_mib = cache_mib
        self._synchronous = synchronous.upper()
        self._reader_count = readers
        self._writer: ThreadPoolExecutor | None = None
        self._readers: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._lock_file: IO[str] | None = None
        self.write_conn: sqlite3.Connection | None = None
        self._checkpointer: ThreadPoolExecutor | None = None
        self._checkpoint_conn: sqlite3.Connection | None = None
        self._checkpoint: asyncio.Future[None] | None = None
        self._last_checkpoint = 0.0

    async def open(self, schema: str) -> None:
        self.path.parent.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        for suffix in _SIDE_FILES:
            side = Path(f"{self.path}{suffix}")
            if suffix in ("", ".lock"):
                _create_private(side)  # before SQLite creates it, and -wal/-shm after its mode
            else:
                _take_away_group_and_other(side)
        lock = Path(f"{self.path}.lock").open("w")  # noqa: SIM115, ASYNC230 - held while open
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise ConfigError(
                f"another Grace process is using {self.path}; the embedded SQLite engine serves "
                "one process (use PostgreSQL and Redis to run several)"
            ) from None
        self._lock_file = lock
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="grace-sqlite-writer")
        self._readers = ThreadPoolExecutor(
            self._reader_count, thread_name_prefix="grace-sqlite-reader"
        )
        self._checkpointer = ThreadPoolExecutor(1, thread_name_prefix="grace-sqlite-checkpoint")
        await self.write(lambda conn: conn.executescript(schema))

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self._synchronous}")
        conn.execute("PRAGMA busy_timeout=5000")
        return conn

    def _writer_conn(self) -> sqlite3.Connection:
        if self.write_conn is None:
            self.write_conn = self._connect()
            self.write_conn.execute("PRAGMA wal_autocheckpoint=0")  # see _run_checkpoint
            # Appends touch a page per user: with the default 2 MiB cache they re-read pages.
            self.write_conn.execute(f"PRAGMA cache_size=-{self._cache_mib * 1024}")
        return self.write_conn

    def _maybe_checkpoint(self) -> None:
        now = time.monotonic()
        if (
            self._checkpointer is None
            or self._checkpoint is not None
            or now - self._last_checkpoint < CHECKPOINT_SECONDS
        ):
            return
        self._last_checkpoint = now
        self._checkpoint = asyncio.get_running_loop().run_in_executor(
            self._checkpointer, self._run_checkpoint
        )
        self._checkpoint.add_done_callback(self._checkpoint_done)

    def _run_checkpoint(self) -> None:
        if self._checkpoint_conn is None:
            self._checkpoint_conn = self._connect()
        # PASSIVE: copies what no reader still needs, without waiting for or blocking anyone.
        self._checkpoint_conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def _checkpoint_done(self, future: asyncio.Future[None]) -> None:
        self._checkpoint = None
        if not future.cancelled() and future.exception() is not None:
            log.error("WAL checkpoint failed: %s", future.exception())

    def _reader_conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            conn.execute("PRAGMA query_only=1")
            self._local.conn = conn
            with self._conns_lock:
                self._reader_conns.append(conn)
        return conn

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` on the writer thread; ``fn`` owns the transaction it opens."""
        assert self._writer is not None, "database is not open"
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self._writer, lambda: fn(self._writer_conn())
            )
        finally:
            self._maybe_checkpoint()

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        assert self._readers is not None, "database is not open"
        return await asyncio.get_running_loop().run_in_executor(
            self._readers, lambda: fn(self._reader_conn())
        )

    async def close(self) -> None:
        if self._checkpoint is not None:
            await asyncio.wait({self._checkpoint})
        if self._checkpointer is not None:
            checkpointer, self._checkpointer = self._checkpointer, None
            checkpointer.shutdown(wait=True)
            if self._checkpoint_conn is not None:
                self._checkpoint_conn.close()
                self._checkpoint_conn = None
        if self._writer is not None:
            await self.write(lambda conn: conn.close())
            self._writer.shutdown(wait=True)
            self._writer = None
        if self._readers is not None:
            self._readers.shutdown(wait=True)
            self._readers = None
            for conn in self._reader_conns:
                conn.close()
            self._reader_conns.clear()
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None


def transaction(conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = fn(conn)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return result
