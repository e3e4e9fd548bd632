"""The PostgreSQL engine's connections: a pool for the stores, and this process's own session.

Guarantees: ``open`` applies the schema versions this process knows (``postgres_schema``) under
an advisory lock and refuses a database whose schema is newer; every store shares the pool,
whose connections run each statement in its own committed transaction unless a store opens one
(``transaction``, retried when PostgreSQL picks it as a deadlock victim or finds a serialization
failure); the session is one dedicated connection, used by the notification log's writer, that
holds an advisory lock keyed by ``instance`` for as long as this process is connected. Other
processes read that lock (``LIVE_INSTANCES``) to tell whether the process that started a task
or a mission is still alive. Several processes may open the same database at once.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import asyncpg.pool

from grace_chat.errors import ConfigError
from grace_chat.store.backends.postgres_schema import migrate

T = TypeVar("T")
log = logging.getLogger("grace_chat.store.postgres")

#: A connection of the pool while held, or the session.
Conn = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy

#: How often a transaction is retried when PostgreSQL aborts it as a deadlock victim.
RETRIES = 5
RETRYABLE = (asyncpg.exceptions.DeadlockDetectedError, asyncpg.exceptions.SerializationError)

#: The ``instance`` keys of the processes connected to this database right now (each holds the
#: advisory lock of its key; a bigint key shows in ``pg_locks`` as two halves).
LIVE_INSTANCES = (
    "SELECT (l.classid::bigint << 32) | l.objid::bigint FROM pg_locks l "
    "WHERE l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted "
    "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


def alive(column: str, timeout: str) -> str:
    """SQL: whether the process whose instance is in ``column`` is connected and its heartbeat
    (``cluster_processes``) is younger than ``timeout`` (an SQL expression, in seconds)."""
    return (
        f"({column} IN ({LIVE_INSTANCES}) AND EXISTS (SELECT 1 FROM cluster_processes p "
        f"WHERE p.instance = {column} AND p.heartbeat_at > now() - make_interval(secs => "
        f"{timeout})))"
    )


def redact(url: str) -> str:
    """``url`` without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


class PostgresDatabase:
    """A PostgreSQL database: a pool of up to ``pool_size`` connections, and the session."""

    def __init__(self, url: str, pool_size: int = 10) -> None:
        scheme, sep, rest = url.partition("://")
        self.url = f"postgresql://{rest}" if scheme == "postgres" and sep else url
        self.where = redact(self.url)
        self.pool_size = pool_size
        #: This process's key; positive and below 2**62, so that it reads back as itself.
        self.instance = random.randrange(1, 2**62)
        self._pool: asyncpg.Pool | None = None
        self._session: asyncpg.Connection | None = None
        self._session_lock = asyncio.Lock()
        self.schema_found = 0

    @property
    def pool(self) -> asyncpg.Pool:
        assert self._pool is not None, "database is not open"
        return self._pool

    async def _connect(self) -> asyncpg.Connection:
        try:
            return await asyncpg.connect(self.url, server_settings=self._settings())
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise ConfigError(f"cannot connect to PostgreSQL at {self.where}: {exc}") from None

    def _settings(self) -> dict[str, str]:
        return {} if "application_name=" in self.url else {"application_name": "grace"}

    async def open(self) -> None:
        session = await self._connect()
        try:
            self.schema_found = await migrate(session, self.where)
            await session.execute("SELECT pg_advisory_lock($1)", self.instance)
            self._pool = await asyncpg.create_pool(
                self.url,
                min_size=1,
                max_size=self.pool_size,
                server_settings=self._settings(),
            )
        except BaseException:
            await session.close()
            raise
        self._session = session

    async def side_pool(self, size: int, **settings: str) -> asyncpg.Pool:
        """A small pool of its own whose connections run with ``settings`` (the cluster's
        coordination rows are written with ``synchronous_commit=off``); the caller closes it."""
        try:
            pool: asyncpg.Pool = await asyncpg.create_pool(
                self.url,
                min_size=1,
                max_size=size,
                server_settings={**self._settings(), **settings},
            )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise ConfigError(f"cannot connect to PostgreSQL at {self.where}: {exc}") from None
        return pool

    async def dedicated(self) -> asyncpg.Connection:
        """A new connection of its own, outside the pool (the cluster's listener and leader lock);
        the caller closes it."""
        return await self._connect()

    async def session(self) -> asyncpg.Connection:
        """The dedicated connection, connected again (and its lock taken again) if it broke."""
        async with self._session_lock:
            if self._session is None or self._session.is_closed():
                log.warning("the PostgreSQL session was lost; connecting again")
                session = await self._connect()
                await session.execute("SELECT pg_advisory_lock($1)", self.instance)
                self._session = session
            return self._session

    async def transaction(self, fn: Callable[[Conn], Awaitable[T]]) -> T:
        """Run ``fn`` in one transaction on a pool connection, again if it was a deadlock's
        victim (``fn`` must do nothing outside the database that a retry would repeat)."""
        attempt = 0
        while True:
            try:
                async with self.pool.acquire() as conn, conn.transaction():
                    return await fn(conn)
            except RETRYABLE:
                attempt += 1
                if attempt >= RETRIES:
                    raise
                await asyncio.sleep(random.uniform(0.001, 0.01) * attempt)

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        return await self.pool.fetch(sql, *args)

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        return await self.pool.fetchrow(sql, *args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        return await self.pool.fetchval(sql, *args)

    async def execute(self, sql: str, *args: Any) -> str:
        return await self.pool.execute(sql, *args)

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:
                await asyncio.wait_for(pool.close(), 10)
            except TimeoutError:
                pool.terminate()
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()


def affected(status: str) -> int:
    """The row count of a command status such as ``UPDATE 3``."""
    tail = status.rpartition(" ")[2]
    return int(tail) if tail.isdigit() else 0
