"""The Redis backplane: live frames between Grace processes that share one database.

Every process publishes what it delivers (notification frames in commit order, control frames
such as ``read``) on one Redis pub/sub channel, ``PREFIX:frames``, and hands what the other
processes publish to its own hub. A process delivers its own frames to its own connections at
once, without waiting for the round trip, and ignores them when Redis echoes them back.

A message is a batch: everything one process published during one turn of its event loop, as
``G1``, the process's 16-byte origin, then records ``kind user seq frame`` (``N`` notification,
``C`` control, ``R`` re-read a user's log, all users' when the name is empty). Frames travel as
the bytes the notifier serialized; nothing parses or encodes them again.

Order and holes: per user with open connections here, the backplane remembers the last ``seq``
it delivered. A notification frame at or below it is dropped; one that skips ahead (a message
lost while Redis was away, or two processes committing one after the other and publishing the
other way round) waits while the hole is read from the log (``LogReader``), and so do the
user's frames that arrive meanwhile. A user who just connected is caught up by their replay;
the backplane starts from the lowest replay floor of their connections.

Redis down: publishing stores and returns as before; this process's connections get its own
notifications at once; frames for other processes are dropped (the users they were for are
remembered, up to ``MAX_MISSED``). The outage is logged when it starts and when it ends. When
the subscription is back, the process re-reads from the log what each of its connected users
missed, and asks the others (an ``R`` record) to do the same for the users it could not relay.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import struct
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from grace_chat.errors import ConfigError, Unavailable
from grace_chat.hub.backplane import BackplaneFactory, LogReader
from grace_chat.hub.hub import Hub
from grace_chat.hub.outbox import Outbox

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger("grace_chat.hub.redis")

MAGIC = b"G1"
ORIGIN_BYTES = 16
#: One record's head: kind, length of the user id, seq, length of the frame.
RECORD = struct.Struct(">cHQI")
NOTIFICATION, CONTROL, RESYNC = b"N", b"C", b"R"

#: Frames read from the log per query while filling a hole.
FILL_PAGE = 500
#: Largest message published (a batch bigger than this is split).
MAX_MESSAGE_BYTES = 512 * 1024
#: Messages waiting for Redis; beyond that the oldest is dropped (its users are re-read later).
MAX_PENDING = 1024
#: Users remembered as missed during an outage; beyond that every user is re-read.
MAX_MISSED = 10_000
#: Seconds between attempts to reach Redis again, growing from the first to the second.
RETRY_MIN, RETRY_MAX = 0.1, 2.0
#: Seconds ``start`` waits for the first subscription before serving without it.
START_WAIT = 3.0
#: Seconds the readiness check waits for Redis to answer a PING.
PING_TIMEOUT = 2.0


def encode_record(kind: bytes, user_id: str, seq: int, frame: bytes) -> bytes:
    user = user_id.encode()
    return RECORD.pack(kind, len(user), seq, len(frame)) + user + frame


def decode(payload: bytes) -> tuple[bytes, Iterator[tuple[bytes, str, int, memoryview]]]:
    """The origin of a message and its records ``(kind, user, seq, frame)``; ``ValueError`` for
    a message that is not one (the frame is a view into ``payload``: copy it to keep it)."""
    if payload[:2] != MAGIC or len(payload) < 2 + ORIGIN_BYTES:
        raise ValueError("not a Grace backplane message")
    origin = payload[2 : 2 + ORIGIN_BYTES]

    def records() -> Iterator[tuple[bytes, str, int, memoryview]]:
        view = memoryview(payload)
        at, end = 2 + ORIGIN_BYTES, len(payload)
        while at < end:
            if at + RECORD.size > end:
                raise ValueError("truncated record")
            kind, user_len, seq, frame_len = RECORD.unpack_from(view, at)
            at += RECORD.size
            user = bytes(view[at : at + user_len]).decode()
            at += user_len
            frame = view[at : at + frame_len]
            at += frame_len
            if at > end:
                raise ValueError("truncated record")
            yield kind, user, seq, frame

    return origin, records()


def where(url: str) -> str:
    """The server a Redis URL names, for log lines (never its password)."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return parts.path
    return f"{parts.hostname or 'localhost'}:{parts.port or 6379}{parts.path or ''}"


@dataclass
class _Fill:
    """A hole being read from the log: the user's frames that arrived meanwhile, and whether to
    read to the log's end once more (a re-sync asked for while reading)."""

    frames: list[tuple[int, bytes]] = field(default_factory=list)
    to_end: bool = False


class RedisBackplane:
    """See the module's docstring and ``grace_chat.hub.backplane``."""

    def __init__(self, hub: Hub, reader: LogReader, url: str, *, prefix: str = "grace") -> None:
        self._hub = hub
        self._reader = reader
        self._url = url
        self.where = where(url)
        self.channel = f"{prefix}:frames".encode()
        self.origin = os.urandom(ORIGIN_BYTES)
        self._client: Redis | None = None
        self._delivered: dict[str, int] = {}
        self._fills: dict[str, _Fill] = {}
        self._batch: list[bytes] = []
        self._batch_bytes = 0
        self._batch_users: set[str] = set()
        self._flush_handle: asyncio.Handle | None = None
        self._pending: deque[tuple[bytes, frozenset[str]]] = deque()
        self._wake: asyncio.Event | None = None
        self._subscribed: asyncio.Event | None = None
        self._missed: set[str] = set()
        self._missed_all = False
        self._reconnect = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._down_since: float | None = None
        #: Whether the subscription is live: only then are frames handed to Redis.
        self.up = False
        #: Counters, for tests and the curious: frames read from the log to fill holes, frames
        #: dropped as already delivered, frames this process could not relay.
        self.filled = 0
        self.duplicates = 0
        self.unrelayed = 0

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        # no retries inside the client: a broken connection must surface here, where it starts
        # an outage (and its end, a re-sync), rather than be hidden by a silent reconnect
        self._client = Redis.from_url(
            self._url,
            retry=Retry(NoBackoff(), 0),
            socket_connect_timeout=2,
            socket_timeout=5,
            health_check_interval=5,
        )
        self._wake = asyncio.Event()
        self._subscribed = asyncio.Event()
        self._spawn(self._listen())
        self._spawn(self._send())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), START_WAIT)

    async def stop(self) -> None:
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.aclose()
        self.up = False

    async def reachable(self) -> None:
        """Return once Redis answered a PING and the subscription is live; raise
        ``Unavailable`` saying which is not (the readiness check)."""
        client = self._client
        if client is None:
            raise Unavailable("the Redis backplane is not started")
        try:
            async with asyncio.timeout(PING_TIMEOUT):
                await client.ping()  # type: ignore[misc]  # redis types sync and async together
        except Exception as exc:
            raise Unavailable(
                f"Redis at {self.where} does not answer ({type(exc).__name__})"
            ) from None
        if not self.up:
            raise Unavailable(f"the subscription to Redis at {self.where} is not live yet")

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- the Backplane calls ------------------------------------------------------------------

    def publish(self, user_id: str, seq: int, frame: bytes) -> None:
        self._arrive(user_id, seq, frame)
        self._relay(NOTIFICATION, user_id, seq, frame)

    def send_control(self, user_id: str, frame: bytes, exclude: Outbox | None = None) -> None:
        self._hub.send_control(user_id, frame, exclude)
        self._relay(CONTROL, user_id, 0, frame)

    # -- delivery in seq order ----------------------------------------------------------------

    def _baseline(self, user_id: str, boxes: tuple[Outbox, ...]) -> int:
        """What every connection of the user here has had (-1: unknown, a replay is running)."""
        return max(self._delivered.get(user_id, -1), min(box.floor for box in boxes))

    def _arrive(self, user_id: str, seq: int, frame: bytes) -> None:
        boxes = self._hub.connections(user_id)
        if not boxes:
            self._delivered.pop(user_id, None)
            return
        fill = self._fills.get(user_id)
        if fill is not None:
            fill.frames.append((seq, frame))
            return
        last = self._baseline(user_id, boxes)
        if last < 0 or seq == last + 1:
            self._deliver(user_id, seq, frame)
        elif seq <= last:
            self.duplicates += 1
        else:
            self._start_fill(user_id, _Fill([(seq, frame)]))

    def _deliver(self, user_id: str, seq: int, frame: bytes) -> None:
        self._delivered[user_id] = seq
        self._hub.deliver(user_id, seq, frame)

    def _resync(self, user_id: str) -> None:
        """Read what the user's connections here may have missed, from the log."""
        fill = self._fills.get(user_id)
        if fill is not None:
            fill.to_end = True
            return
        boxes = self._hub.connections(user_id)
        if boxes and self._baseline(user_id, boxes) >= 0:
            self._start_fill(user_id, _Fill(to_end=True))

    def _resync_all(self) -> None:
        for user_id in self._hub.online_users():
            self._resync(user_id)

    def _start_fill(self, user_id: str, fill: _Fill) -> None:
        self._fills[user_id] = fill
        self._spawn(self._fill(user_id, fill))

    async def _fill(self, user_id: str, fill: _Fill) -> None:
        try:
            while True:
                boxes = self._hub.connections(user_id)
                if not boxes:
                    self._delivered.pop(user_id, None)
                    return
                frames, fill.frames = sorted(fill.frames, key=lambda f: f[0]), []
                to_end, fill.to_end = fill.to_end, False
                last = self._baseline(user_id, boxes)
                target = frames[-1][0] if frames else last
                if last >= 0 and (to_end or target > last + 1):
                    cursor = last
                    while to_end or cursor < target - 1:
                        # up to the frame that showed the hole (its bytes are the publisher's)
                        limit = FILL_PAGE if to_end else min(FILL_PAGE, target - 1 - cursor)
                        page = await self._reader.frames_since(user_id, cursor, limit)
                        for seq, frame in page:
                            if seq > last:
                                self._deliver(user_id, seq, frame)
                                self.filled += 1
                                last = seq
                        if len(page) < limit:
                            break
                        cursor = page[-1][0]
                for seq, frame in frames:
                    if seq > last:  # a seq the log no longer has (retention) is skipped
                        self._deliver(user_id, seq, frame)
                        last = seq
                    else:
                        self.duplicates += 1
                if not fill.frames and not fill.to_end:
                    return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # the log is out of reach too: the user's clients here resume from their seq
            log.warning(
                "could not read %s's log to fill a hole in their live frames (%s); closing "
                "their connections in this process so that they resume",
                user_id,
                exc,
            )
            self._delivered.pop(user_id, None)
            for box in self._hub.connections(user_id):
                box.close()
        finally:
            if self._fills.get(user_id) is fill:
                del self._fills[user_id]

    # -- to Redis -----------------------------------------------------------------------------

    def _relay(self, kind: bytes, user_id: str, seq: int, frame: bytes) -> None:
        if not self.up:
            if kind == NOTIFICATION:
                self._miss((user_id,))
            return
        record = encode_record(kind, user_id, seq, frame)
        self._batch.append(record)
        self._batch_bytes += len(record)
        if kind == NOTIFICATION:
            self._batch_users.add(user_id)
        if self._batch_bytes >= MAX_MESSAGE_BYTES:
            self._flush_batch()
        elif self._flush_handle is None:
            self._flush_handle = asyncio.get_running_loop().call_soon(self._flush_batch)

    def _flush_batch(self) -> None:
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        if not self._batch:
            return
        payload = b"".join([MAGIC, self.origin, *self._batch])
        users = frozenset(self._batch_users)
        self._batch, self._batch_bytes, self._batch_users = [], 0, set()
        if len(self._pending) >= MAX_PENDING:
            _, dropped = self._pending.popleft()
            self._miss(dropped)
        self._pending.append((payload, users))
        if self._wake is not None:
            self._wake.set()

    def _miss(self, users: frozenset[str] | tuple[str, ...]) -> None:
        self.unrelayed += len(users)
        if self._missed_all:
            return
        self._missed.update(users)
        if len(self._missed) > MAX_MISSED:
            self._missed.clear()
            self._missed_all = True

    def _drop_pending(self) -> None:
        while self._pending:
            self._miss(self._pending.popleft()[1])

    async def _send(self) -> None:
        assert self._wake is not None
        while True:
            while not self._pending:
                self._wake.clear()
                await self._wake.wait()
            if not self.up or self._client is None:
                self._drop_pending()
                continue
            payload, _ = self._pending[0]
            try:
                await self._client.publish(self.channel, payload)
            except Exception as exc:
                self._drop_pending()
                self._outage(exc)
                self._reconnect = True
            else:
                if self._pending and self._pending[0][0] is payload:
                    self._pending.popleft()

    def _announce_missed(self) -> None:
        """Ask the other processes to re-read the logs of users this process could not relay."""
        if self._missed_all:
            names: list[str] = [""]
        else:
            names = sorted(self._missed)
        self._missed.clear()
        self._missed_all = False
        for name in names:
            self._relay(RESYNC, name, 0, b"")

    # -- from Redis ---------------------------------------------------------------------------

    async def _listen(self) -> None:
        from redis.exceptions import RedisError

        assert self._subscribed is not None
        delay = RETRY_MIN
        while True:
            assert self._client is not None
            pubsub = self._client.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                while (message := await pubsub.get_message(timeout=1.0)) is None or message[
                    "type"
                ] != "subscribe":
                    pass
                self._reconnect = False
                self._recovered()
                self._subscribed.set()
                delay = RETRY_MIN
                idle = time.monotonic()
                while not self._reconnect:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None and message["type"] == "message":
                        self._receive(message["data"])
                    elif time.monotonic() - idle > 30:
                        idle = time.monotonic()
                        self._forget_offline()
                self._reconnect = False
            except (RedisError, OSError) as exc:
                self._outage(exc)
            finally:
                self.up = False
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX)

    def _outage(self, exc: BaseException) -> None:
        self.up = False
        if self._down_since is None:
            self._down_since = time.monotonic()
            log.warning(
                "Redis at %s is out of reach (%s): each process now delivers only its own "
                "notifications live; the others' clients get them when they resume or when "
                "Redis is back",
                self.where,
                exc or type(exc).__name__,
            )

    def _recovered(self) -> None:
        self.up = True
        if self._down_since is not None:
            log.warning(
                "Redis at %s answers again after %.1fs: re-reading what %d connected users "
                "missed from the log",
                self.where,
                time.monotonic() - self._down_since,
                len(self._hub.online_users()),
            )
            self._down_since = None
        self._resync_all()
        if self._missed or self._missed_all:
            self._announce_missed()

    def _receive(self, payload: bytes) -> None:
        try:
            origin, records = decode(payload)
            if origin == self.origin:
                return
            hub = self._hub
            for kind, user_id, seq, frame in records:
                if kind == NOTIFICATION:
                    if hub.connection_count(user_id):
                        self._arrive(user_id, seq, bytes(frame))
                    else:
                        self._delivered.pop(user_id, None)
                elif kind == CONTROL:
                    if hub.connection_count(user_id):
                        hub.send_control(user_id, bytes(frame))
                elif kind == RESYNC:
                    if user_id:
                        self._resync(user_id)
                    else:
                        self._resync_all()
        except (ValueError, UnicodeDecodeError) as exc:
            log.warning("ignored a message on %s that is not Grace's: %s", self.channel, exc)

    def _forget_offline(self) -> None:
        for user_id in [u for u in self._delivered if not self._hub.connection_count(u)]:
            del self._delivered[user_id]


def redis_backplane(url: str, reader: LogReader, *, prefix: str = "grace") -> BackplaneFactory:
    """The factory ``Grace(backplane=...)`` takes; refuses at once without the client library."""
    try:
        import redis.asyncio  # noqa: F401
    except ImportError:
        raise ConfigError(
            "GRACE_REDIS_URL needs the Redis client, an extra: pip install 'grace-chat[redis]'"
        ) from None
    return lambda hub: RedisBackplane(hub, reader, url, prefix=prefix)
