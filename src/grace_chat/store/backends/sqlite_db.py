"""The embedded engine's connection to its SQLite file: one writer thread, a pool of readers.

Guarantees: every ``write`` runs on the one writer thread, in the order submitted, so the writer
may keep state (``seq`` counters) without locks; reads run concurrently on read-only connections
(WAL) and see only committed data; ``read_here`` runs a short read on the event loop's own
read-only connection, for the reads that cost less than the hop to a reader thread (a handful
of rows found by the primary key); a lock file next to the database keeps a second process out.
WAL checkpoints run on a thread of their own (at most one every ``CHECKPOINT_SECONDS`` while
there are writes), never inside a commit, so copying the log back into the database file does
not stall the writes waiting behind it. Under writes that never pause, such a checkpoint never
reaches the WAL's last frame, and the WAL could only grow (a gigabyte a minute at 2,000
notifications a second): once it holds ``WAL_RESTART_FRAMES`` frames, the writer thread itself
checkpoints the few frames left after a background checkpoint, between two transactions, so
that the next transaction starts the WAL over; ``journal_size_limit`` then cuts the file back.

When the storage fails (the disk is full, the file system is read-only, the disk reports an
I/O error, the database file was removed or replaced under the running server), ``write`` and
``read`` raise ``StoreUnavailable`` saying which, and nothing of that call is stored. Such an
episode is logged once when it starts and once when a write succeeds again, not per call. Once
the disk was found full, writes are refused until ``RESUME_FREE_BYTES`` are free again: small
writes that might still squeeze in would make the store answer yes and no by turns. ``probe``
tells whether a write can succeed now (the readiness check).
The database and the files beside it (``-wal``, ``-shm``, ``.lock``) are readable and writable
by their owner only (0600; SQLite gives ``-wal`` and ``-shm`` the mode of the database file), and
a directory the database needs is created 0700. ``make_private`` does the same for a whole data
directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import logging
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, TypeVar

from grace_chat.errors import ConfigError, StoreUnavailable

T = TypeVar("T")
log = logging.getLogger("grace_chat.store.sqlite")

CHECKPOINT_SECONDS = 0.25
#: WAL frames (pages) past which the writer finishes a checkpoint itself, so the WAL starts over.
WAL_RESTART_FRAMES = 8192
#: What the WAL file is cut back to when it starts over (bytes).
WAL_KEEP_BYTES = 64 << 20
#: After the disk was found full, writing resumes once this much is free on its file system.
RESUME_FREE_BYTES = 1 << 20

DISK_FULL = "the disk is full"
READ_ONLY = "the data directory is read-only"
IO_ERROR = "the disk failed to read or write"
GONE = "the database file is gone (its data directory was removed or replaced)"

#: SQLite's primary result codes that mean the storage failed, not the statement.
_SQLITE_TROUBLE = {
    sqlite3.SQLITE_FULL: DISK_FULL,
    sqlite3.SQLITE_READONLY: READ_ONLY,
    sqlite3.SQLITE_IOERR: IO_ERROR,
    sqlite3.SQLITE_CANTOPEN: GONE,
}
#: The same for the operating system's errors (files Grace writes beside the database).
_OS_TROUBLE = {
    errno.ENOSPC: DISK_FULL,
    errno.EDQUOT: DISK_FULL,
    errno.EFBIG: DISK_FULL,
    errno.EROFS: READ_ONLY,
    errno.EIO: IO_ERROR,
}


def storage_trouble(exc: BaseException) -> str | None:
    """What is wrong with the storage if ``exc`` says so (full, read-only, I/O error, gone);
    ``None`` for any other error."""
    if isinstance(exc, _FileLost):
        return GONE
    if isinstance(exc, _StillFull):
        return DISK_FULL
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        return _SQLITE_TROUBLE.get(code & 0xFF) if isinstance(code, int) else None
    if isinstance(exc, OSError):
        return _OS_TROUBLE.get(exc.errno) if exc.errno is not None else None
    return None


def unavailable(reason: str) -> StoreUnavailable:
    return StoreUnavailable(f"Grace cannot store anything right now: {reason}. Try again later.")


class _FileLost(Exception):
    """The database file is no longer at its path (removed, or another file put there): writes
    would go to a file nobody will open again."""


class _StillFull(Exception):
    """The disk was full and has not got ``RESUME_FREE_BYTES`` free since."""


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
        self._loop_conn: sqlite3.Connection | None = None
        self._conns_lock = threading.Lock()
        self._lock_file: IO[str] | None = None
        self.write_conn: sqlite3.Connection | None = None
        self._checkpointer: ThreadPoolExecutor | None = None
        self._checkpoint_conn: sqlite3.Connection | None = None
        self._checkpoint: asyncio.Future[int] | None = None
        self._last_checkpoint = 0.0
        #: ``(st_dev, st_ino)`` of the database file as opened.
        self._file: tuple[int, int] | None = None
        #: What is wrong with the storage while writes fail (an episode); ``None`` when fine.
        self.trouble: str | None = None

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
        found = await asyncio.to_thread(os.stat, self.path)
        self._file = (found.st_dev, found.st_ino)

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
            self.write_conn.execute(f"PRAGMA journal_size_limit={WAL_KEEP_BYTES}")
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

    def _run_checkpoint(self) -> int:
        """A background checkpoint; returns the frames in the WAL when it started."""
        if self._checkpoint_conn is None:
            self._checkpoint_conn = self._connect()
        # PASSIVE: copies what no reader still needs, without waiting for or blocking anyone.
        row = self._checkpoint_conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return int(row[1]) if row else 0

    def _finish_checkpoint(self) -> int:
        """On the writer thread, between transactions: copy what the background checkpoint left,
        so that the next transaction starts the WAL over."""
        row = self._writer_conn().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return int(row[1]) if row else 0

    def _checkpoint_done(self, future: asyncio.Future[int]) -> None:
        self._checkpoint = None
        exc = None if future.cancelled() else future.exception()
        if exc is None:
            if (
                not future.cancelled()
                and future.result() >= WAL_RESTART_FRAMES
                and self._writer is not None
            ):
                self._checkpoint = asyncio.get_running_loop().run_in_executor(
                    self._writer, self._finish_checkpoint
                )
                self._checkpoint.add_done_callback(self._after_finish)
            return
        reason = storage_trouble(exc)
        if reason is not None:
            self._troubled(reason, exc)
        else:
            log.error("WAL checkpoint failed: %s", exc)

    def _after_finish(self, future: asyncio.Future[int]) -> None:
        self._checkpoint = None
        exc = None if future.cancelled() else future.exception()
        if exc is not None:
            reason = storage_trouble(exc)
            if reason is not None:
                self._troubled(reason, exc)
            else:
                log.error("WAL checkpoint failed: %s", exc)

    def _close_writer(self) -> None:
        if self.write_conn is not None:
            self.write_conn.close()
            self.write_conn = None

    def _reader_conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            conn.execute("PRAGMA query_only=1")
            self._local.conn = conn
            with self._conns_lock:
                self._reader_conns.append(conn)
        return conn

    def _in_place(self) -> None:
        """Raise ``_FileLost`` unless the database file is still the one opened (writer thread)."""
        if self._file is None:
            return  # still opening
        try:
            found = os.stat(self.path)
        except FileNotFoundError:
            raise _FileLost(str(self.path)) from None
        if (found.st_dev, found.st_ino) != self._file:
            raise _FileLost(str(self.path))

    def _write_now(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        self._in_place()
        if self.trouble == DISK_FULL:
            room = os.statvfs(self.path.parent)
            if room.f_bavail * room.f_frsize < RESUME_FREE_BYTES:
                raise _StillFull(f"{room.f_bavail * room.f_frsize} bytes free")
        return fn(self._writer_conn())

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` on the writer thread; ``fn`` owns the transaction it opens.

        Raises ``StoreUnavailable`` when the storage fails (see the module's docstring)."""
        assert self._writer is not None, "database is not open"
        try:
            with self._storage_errors():
                result = await asyncio.get_running_loop().run_in_executor(
                    self._writer, self._write_now, fn
                )
        finally:
            self._maybe_checkpoint()
        self._fine()
        return result

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        assert self._readers is not None, "database is not open"
        with self._storage_errors():
            return await asyncio.get_running_loop().run_in_executor(
                self._readers, lambda: fn(self._reader_conn())
            )

    def read_here(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` now, on the calling (event loop) thread, on a read-only connection of its
        own; raises ``StoreUnavailable`` as ``read`` does.

        For reads of a few rows by the primary key (a user's head, a page of a replay): their
        pages are in SQLite's or the system's cache, and the read takes microseconds, less than
        the hop to a reader thread and back. Under a reconnect storm the hop also cost the
        threads' fight for the interpreter lock at every row the reader stepped through: serving
        the greetings here halved the server's CPU per reconnect (``docs/performance.md``).
        Anything that may scan belongs on ``read``.
        """
        assert self._readers is not None, "database is not open"
        with self._storage_errors():
            conn = self._loop_conn
            if conn is None:
                conn = self._loop_conn = self._connect()
                conn.execute("PRAGMA query_only=1")
                # the pages of the logs clients come back to stay in memory, as the writer's do
                conn.execute(f"PRAGMA cache_size=-{self._cache_mib * 1024}")
            return fn(conn)

    @contextlib.contextmanager
    def _storage_errors(self) -> Iterator[None]:
        """A failure of the storage inside becomes ``StoreUnavailable`` saying why (and starts
        or continues an episode); any other error passes as it is."""
        try:
            yield
        except Exception as exc:
            reason = storage_trouble(exc)
            if reason is None:
                raise
            self._troubled(reason, exc)
            raise unavailable(reason) from exc

    async def probe(self) -> None:
        """Write a little (in ``meta``) to learn whether writing works now; raises
        ``StoreUnavailable`` saying why not."""

        def touch(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('probed_at', ?)",
                (repr(time.time()),),
            )

        await self.write(lambda conn: transaction(conn, touch))

    def _troubled(self, reason: str, exc: BaseException) -> None:
        """Log the start of an episode of ``reason`` once (not each call that meets it)."""
        if self.trouble == reason:
            return
        self.trouble = reason
        log.error(
            "the store at %s cannot write: %s (%s); calls that store answer 'unavailable' until "
            "a write succeeds again",
            self.path,
            reason,
            exc,
        )

    def _fine(self) -> None:
        if self.trouble is not None:
            log.warning(
                "the store at %s can write again (it could not: %s)", self.path, self.trouble
            )
            self.trouble = None

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
            # not through ``write``: the file may be gone, and closing must work all the same
            await asyncio.get_running_loop().run_in_executor(self._writer, self._close_writer)
            self._writer.shutdown(wait=True)
            self._writer = None
        if self._readers is not None:
            self._readers.shutdown(wait=True)
            self._readers = None
            for conn in self._reader_conns:
                conn.close()
            self._reader_conns.clear()
        if self._loop_conn is not None:
            self._loop_conn.close()
            self._loop_conn = None
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None


def transaction(conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = fn(conn)
    except BaseException:
        if conn.in_transaction:  # SQLite may have rolled back itself (a full disk, say)
            conn.execute("ROLLBACK")
        raise
    try:
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # a commit that failed leaves nothing open behind it
            conn.execute("ROLLBACK")
        raise
    return result
