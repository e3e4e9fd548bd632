"""The embedded engine's connection to its SQLite file: one writer thread, a pool of readers.

Guarantees: every ``write`` runs on the one writer thread, in the order submitted, so the writer
may keep state (``seq`` counters) without locks; reads run concurrently on read-only connections
(WAL) and see only committed data; a lock file next to the database keeps a second process out.
"""

from __future__ import annotations

import asyncio
import fcntl
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, TypeVar

from grace.errors import ConfigError

T = TypeVar("T")


class SQLiteDatabase:
    """A SQLite file with one writer thread and a pool of reader threads."""

    def __init__(self, path: Path, synchronous: str = "FULL", readers: int = 2) -> None:
        self.path = path
        self._synchronous = synchronous.upper()
        self._reader_count = readers
        self._writer: ThreadPoolExecutor | None = None
        self._readers: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._lock_file: IO[str] | None = None
        self.write_conn: sqlite3.Connection | None = None

    async def open(self, schema: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
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
        return self.write_conn

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
        return await asyncio.get_running_loop().run_in_executor(
            self._writer, lambda: fn(self._writer_conn())
        )

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        assert self._readers is not None, "database is not open"
        return await asyncio.get_running_loop().run_in_executor(
            self._readers, lambda: fn(self._reader_conn())
        )

    async def close(self) -> None:
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
