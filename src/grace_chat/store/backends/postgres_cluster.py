"""Shared engine: the cluster (``grace_chat.cluster``) on PostgreSQL.

One dedicated connection per process LISTENs on two channels: the process's own
(``grace_p_<instance>``: requests for it, replies to it) and the cluster's
(``grace_b_<namespace>``: signals); it also holds the leader's advisory lock while this process
leads. The namespace is the database and schema, so clusters sharing a server never hear or
block each other.

A command for another process is a row of ``control_requests``, inserted in the statement that
notifies the owner. The owner claims it (``pending → applying``, a conditional UPDATE, so it is
applied once however many wake-ups and polls find it), applies it, and stores its reply in the
statement that notifies the caller (``applying → done``). The caller waits for that wake-up and,
every ``poll`` seconds, reads the row and checks that the owner is alive; a request still
``pending`` when the caller gives up is ``withdrawn`` (a conditional UPDATE too), so it is never
applied later. These rows are coordination, not the record: they are written on a small pool
of their own with ``synchronous_commit=off`` (no wait for the WAL's flush; a crash of the
database server may forget the last moments' requests, whose callers then answer
``unavailable``), while what a command changes (the task) is committed as every store commits.
Each ``heartbeat`` seconds the process moves its heartbeat (and runs the
``beats`` the systems added: tasks move theirs), polls the requests sent to it, and tries to
take (or checks it still holds) the leader's lock.

A leader that stops answering while its connection stays open (a stopped or stuck process)
would keep the lock for ever. The leader confirms its lock on that connection every heartbeat,
so PostgreSQL records when the lock's session last ran a statement (``pg_stat_activity``); a
process that finds the lock taken and its session silent for more than ``owner_timeout`` seconds
ends that session (``pg_terminate_backend``), which frees the lock, and takes it. The leader
trusts its lock only for ``owner_timeout - heartbeat`` seconds after its last confirmation (a
lease shorter than the silence others wait for), and the end of its connection deposes it at
once: a leader that wakes up after it was replaced does not act as one. What the leader's duties
write is fenced in the store besides (a task's or an approval's final state is a conditional
write), so a moment's overlap changes nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import asyncpg.pool
import orjson

from grace_chat.auth import Identity
from grace_chat.cluster import Applier, ControlRequest, LeaderDuties, Periodic
from grace_chat.component import Component
from grace_chat.errors import GraceError, Unavailable, error_from
from grace_chat.store.backends.postgres_db import PostgresDatabase, alive

log = logging.getLogger("grace_chat.cluster")

#: Notification payloads stay well under PostgreSQL's 8000 bytes; a longer reply is read.
PAYLOAD_LIMIT = 7000
#: Connections of the pool that writes the coordination rows.
WRITERS = 3
#: Finished requests are kept this long (seconds) for the record, then deleted by the leader.
KEEP_REQUESTS = 3600.0

_ALIVE = f"SELECT {alive('$1::bigint', '$2')}"

#: End the session holding the leader's lock (key ``$1``) if it ran no statement for ``$2``
#: seconds, waiting up to ``$3`` milliseconds for it to be gone; true if one was ended.
_DEPOSE = (
    "SELECT coalesce(bool_or(pg_terminate_backend(l.pid, $3)), false) FROM pg_locks l "
    "JOIN pg_stat_activity a ON a.pid = l.pid "
    "WHERE l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted "
    "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
    "AND ((l.classid::bigint << 32) | l.objid::bigint) = $1 AND l.pid <> pg_backend_pid() "
    "AND a.state_change < now() - make_interval(secs => $2)"
)
#: How long (milliseconds) a process waits for a silent leader's session to end.
DEPOSE_WAIT_MS = 2000


class PostgresCluster:
    def __init__(
        self,
        db: PostgresDatabase,
        *,
        heartbeat: float = 2.0,
        owner_timeout: float = 15.0,
        poll: float = 1.0,
        command_timeout: float = 10.0,
    ) -> None:
        self.db = db
        self.heartbeat = heartbeat
        self.owner_timeout = owner_timeout
        self.poll = poll
        self.command_timeout = command_timeout
        self.duties = LeaderDuties()
        #: Work each heartbeat does besides the process's own (tasks move their heartbeats).
        self.beats: list[Callable[[], Awaitable[None]]] = []
        self._appliers: dict[str, Applier] = {}
        self._topics: dict[str, list[Callable[[str], None]]] = {}
        self._waiting: dict[str, asyncio.Future[bytes]] = {}
        self._applying: set[str] = set()
        self._jobs: set[asyncio.Task[Any]] = set()
        self._conn: asyncpg.Connection | None = None
        self._writes: asyncpg.Pool | None = None
        self._leading = False
        #: When (monotonic) the leader last began a check that found its lock held.
        self._confirmed = 0.0
        self._ticker: asyncio.Task[None] | None = None
        self._namespace = ""
        self._leader_key = 0
        self.duties.add(Periodic("old control requests", self._forget_old, 60.0))

    # -- the contract ---------------------------------------------------------------------------

    @property
    def instance(self) -> int:
        return self.db.instance

    @property
    def leading(self) -> bool:
        """Whether this process leads: it holds the lock, and confirmed it recently enough that
        no other process can have taken it from it since."""
        lease = self.owner_timeout - self.heartbeat
        return self._leading and time.monotonic() - self._confirmed < lease

    def add(self, component: Component) -> None:
        self.duties.add(component)

    def serve(self, kind: str, apply: Applier) -> None:
        self._appliers[kind] = apply

    def subscribe(self, topic: str, callback: Callable[[str], None]) -> None:
        self._topics.setdefault(topic, []).append(callback)

    async def signal(self, topic: str, payload: str) -> None:
        await self.writes.execute("SELECT pg_notify($1, $2)", self._everyone, f"{topic} {payload}")

    async def alive(self, owner: int) -> bool:
        return bool(await self.db.fetchval(_ALIVE, owner, self.owner_timeout))

    async def forward(
        self,
        owner: int,
        kind: str,
        target: str,
        caller: Identity,
        args: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        request_id = uuid.uuid4().hex
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        try:
            await self.writes.execute(
                "WITH r AS (INSERT INTO control_requests "
                "(request_id, owner, requester, kind, target, caller, admin, args) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING owner) "
                "SELECT pg_notify('grace_p_' || owner::text, 'q' || $1) FROM r",
                request_id,
                owner,
                self.instance,
                kind,
                target,
                caller.user_id,
                caller.admin,
                orjson.dumps(args or {}),
            )
            return _answer(await self._reply(request_id, owner, future))
        finally:
            self._waiting.pop(request_id, None)

    async def _reply(self, request_id: str, owner: int, future: asyncio.Future[bytes]) -> bytes:
        deadline = time.monotonic() + self.command_timeout
        while (left := deadline - time.monotonic()) > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(self.poll, left)):
                    return await asyncio.shield(future)
            row = await self.db.fetchrow(
                "SELECT state, reply FROM control_requests WHERE request_id = $1", request_id
            )
            if row is not None and row["state"] == "done":
                return bytes(row["reply"])
            if not await self.alive(owner):
                break
        if await self.writes.fetchval(
            "UPDATE control_requests SET state = 'withdrawn', done_at = now() "
            "WHERE request_id = $1 AND state = 'pending' RETURNING true",
            request_id,
        ):
            raise Unavailable(
                "the process that runs it did not answer in time; nothing was changed, try again"
            )
        row = await self.db.fetchrow(
            "SELECT state, reply FROM control_requests WHERE request_id = $1", request_id
        )
        if row is not None and row["state"] == "done":
            return bytes(row["reply"])
        raise Unavailable(
            "the process that runs it stopped answering while it applied the command; "
            "look at its state again"
        )

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def writes(self) -> asyncpg.Pool:
        assert self._writes is not None, "the cluster is not started"
        return self._writes

    async def start(self) -> None:
        """Join: the first heartbeat, the listener, the first try for the leader's lock. A
        failure leaves nothing behind (connections closed) and is raised."""
        self._writes = await self.db.side_pool(WRITERS, synchronous_commit="off")
        try:
            row = await self.db.fetchrow("SELECT current_database(), current_schema()")
            assert row is not None
            database, schema = row[0], row[1]
            digest = hashlib.blake2b(f"{database}/{schema}".encode(), digest_size=8).digest()
            self._namespace = digest.hex()[:12]
            self._leader_key = int.from_bytes(digest, "big") >> 2
            await self._beat()
            await self._connect()
            await self._tick()
        except BaseException:
            await self.stop()
            raise
        self._ticker = asyncio.get_running_loop().create_task(self._run(), name="cluster")

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)
            self._ticker = None
        await self._step_down()
        for job in list(self._jobs):
            job.cancel()
        await asyncio.gather(*self._jobs, return_exceptions=True)
        if self._conn is not None:
            conn, self._conn = self._conn, None
            with contextlib.suppress(Exception):
                await conn.close(timeout=5)
        with contextlib.suppress(Exception):
            await self.db.execute(
                "DELETE FROM cluster_processes WHERE instance = $1", self.instance
            )
        if self._writes is not None:
            writes, self._writes = self._writes, None
            await writes.close()

    @property
    def _mine(self) -> str:
        return f"grace_p_{self.instance}"

    @property
    def _everyone(self) -> str:
        return f"grace_b_{self._namespace}"

    async def _connect(self) -> None:
        conn = await self.db.dedicated()
        try:
            await conn.add_listener(self._mine, self._heard)
            await conn.add_listener(self._everyone, self._heard)
            conn.add_termination_listener(self._lost)
        except BaseException:
            await conn.close()
            raise
        self._conn = conn

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat)
            try:
                await self._tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("the cluster's heartbeat failed")

    async def _tick(self) -> None:
        await self._beat()
        for beat in self.beats:
            await beat()
        await self._lead()
        pending = await self.db.fetch(
            "SELECT request_id FROM control_requests WHERE owner = $1 AND state = 'pending'",
            self.instance,
        )
        for row in pending:
            self._spawn(self._apply(row["request_id"]))

    async def _beat(self) -> None:
        await self.writes.execute(
            "INSERT INTO cluster_processes (instance, pid, host) VALUES ($1, $2, $3) "
            "ON CONFLICT (instance) DO UPDATE SET heartbeat_at = now()",
            self.instance,
            os.getpid(),
            socket.gethostname(),
        )

    async def _lead(self) -> None:
        """Take the leader's lock if it is free, or check that it is still held."""
        conn = self._conn
        try:
            if conn is None or conn.is_closed():
                await self._step_down()
                self._conn = None
                await self._connect()
                conn = self._conn
            assert conn is not None
            began = time.monotonic()
            if self._leading:
                await conn.fetchval("SELECT 1")
                self._confirmed = began
            elif await self._take(conn):
                self._confirmed = began
                self._leading = True
                log.info("this process leads the cluster")
                await self.duties.elected()
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            log.warning("the cluster's connection was lost; connecting again")
            await self._step_down()
            if self._conn is not None:
                self._conn.terminate()
                self._conn = None

    async def _take(self, conn: asyncpg.Connection) -> bool:
        """Take the leader's lock: at once if it is free; else, if the session holding it has
        been silent for longer than ``owner_timeout``, end that session first."""
        if await conn.fetchval("SELECT pg_try_advisory_lock($1)", self._leader_key):
            return True
        if not await conn.fetchval(_DEPOSE, self._leader_key, self.owner_timeout, DEPOSE_WAIT_MS):
            return False
        log.warning(
            "the leader stopped answering for more than %gs; its session was ended",
            self.owner_timeout,
        )
        return bool(await conn.fetchval("SELECT pg_try_advisory_lock($1)", self._leader_key))

    def _lost(self, conn: asyncpg.Connection | asyncpg.pool.PoolConnectionProxy) -> None:
        """The cluster's connection closed: with it the leader's lock, so stop leading now,
        before anything else this process runs."""
        if conn is not self._conn or not self._leading:
            return
        self._leading = False
        log.warning("the cluster's connection was lost; this process no longer leads the cluster")
        self._spawn(self.duties.deposed())

    async def _step_down(self) -> None:
        if self._leading:
            self._leading = False
            log.info("this process no longer leads the cluster")
        await self.duties.deposed()

    async def _forget_old(self) -> None:
        await self.db.execute(
            "DELETE FROM control_requests WHERE state IN ('done', 'withdrawn') "
            "AND created_at < now() - make_interval(secs => $1)",
            KEEP_REQUESTS,
        )
        await self.db.execute(
            "DELETE FROM cluster_processes WHERE heartbeat_at < now() - interval '1 day'"
        )

    # -- hearing --------------------------------------------------------------------------------

    def _heard(self, conn: Any, pid: int, channel: str, message: object) -> None:
        payload = str(message)
        if channel == self._everyone:
            topic, _, rest = payload.partition(" ")
            for callback in self._topics.get(topic, ()):
                try:
                    callback(rest)
                except Exception:
                    log.exception("a listener of %s failed", topic)
        elif payload.startswith("q"):
            self._spawn(self._apply(payload[1:]))
        elif payload.startswith("r"):
            request_id, _, reply = payload[1:].partition(" ")
            future = self._waiting.get(request_id)
            if future is not None and not future.done():
                if reply:
                    future.set_result(reply.encode())
                else:
                    self._spawn(self._read_reply(request_id, future))

    async def _read_reply(self, request_id: str, future: asyncio.Future[bytes]) -> None:
        body = await self.db.fetchval(
            "SELECT reply FROM control_requests WHERE request_id = $1", request_id
        )
        if body is not None and not future.done():
            future.set_result(bytes(body))

    def _spawn(self, work: Awaitable[None]) -> None:
        job = asyncio.ensure_future(work)
        self._jobs.add(job)
        job.add_done_callback(self._jobs.discard)

    async def _apply(self, request_id: str) -> None:
        if request_id in self._applying:
            return
        self._applying.add(request_id)
        try:
            row = await self.writes.fetchrow(
                "UPDATE control_requests SET state = 'applying' "
                "WHERE request_id = $1 AND owner = $2 AND state = 'pending' "
                "RETURNING kind, target, caller, admin, args",
                request_id,
                self.instance,
            )
            if row is None:
                return  # applied already, or withdrawn
            request = ControlRequest(
                request_id,
                row["kind"],
                row["target"],
                Identity(row["caller"], admin=row["admin"]),
                orjson.loads(row["args"]),
            )
            body = orjson.dumps(await self._run_applier(request))
            payload = f"r{request_id} {body.decode()}"
            if len(payload) > PAYLOAD_LIMIT:
                payload = f"r{request_id}"  # the caller reads the reply when it polls
            await self.writes.execute(
                "WITH d AS (UPDATE control_requests SET state = 'done', reply = $2, "
                "done_at = now() WHERE request_id = $1 RETURNING requester) "
                "SELECT pg_notify('grace_p_' || requester::text, $3) FROM d",
                request_id,
                body,
                payload,
            )
        except Exception:
            log.exception("applying control request %s failed", request_id)
        finally:
            self._applying.discard(request_id)

    async def _run_applier(self, request: ControlRequest) -> dict[str, Any]:
        apply = self._appliers.get(request.kind)
        try:
            if apply is None:
                raise Unavailable(f"'{request.kind}' is not served by the process that owns it")
            return {"ok": await apply(request)}
        except GraceError as exc:
            return {"error": {"code": exc.code.value, "message": exc.message}}
        except Exception:
            log.exception("control request %s (%s) failed", request.request_id, request.kind)
            return {"error": {"code": "internal", "message": "internal error"}}


def _answer(body: bytes) -> dict[str, Any]:
    reply = orjson.loads(body)
    if "error" in reply:
        raise error_from(str(reply["error"]["code"]), str(reply["error"]["message"]))
    answer: dict[str, Any] = reply["ok"]
    return answer
