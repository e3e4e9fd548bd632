"""The Redis backplane, several of them in one test on the machine's Redis (a channel prefix
per test): frames published on one reach the others once and in ``seq`` order, control frames
skip only the asking connection, holes are read from the log, late and repeated frames are
dropped, and an outage (a proxy cut in front of Redis) keeps each process delivering its own
frames, is logged once, and ends with every connection caught up from the log.

Real ``grace serve`` processes on PostgreSQL and Redis: ``test_redis_processes.py``.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from grace_chat.config import Settings
from grace_chat.errors import ConfigError
from grace_chat.hub.backends.redis import (
    CONTROL,
    MAGIC,
    NOTIFICATION,
    RedisBackplane,
    encode_record,
    redis_backplane,
)
from grace_chat.hub.hub import Hub
from grace_chat.hub.outbox import Outbox
from tests.support.grace_process import until as poll
from tests.support.redis import Proxy


class MemoryLog:
    """The shared log of the test's "processes": per user, frames in seq order."""

    def __init__(self) -> None:
        self.users: dict[str, list[bytes]] = {}
        self.reads = 0
        self.fail = False

    def append(self, user: str, text: str) -> tuple[int, bytes]:
        entries = self.users.setdefault(user, [])
        seq = len(entries) + 1
        frame = orjson.dumps({"seq": seq, "type": "test", "message": text})
        entries.append(frame)
        return seq, frame

    async def frames_since(self, user: str, after: int, limit: int) -> list[tuple[int, bytes]]:
        self.reads += 1
        if self.fail:
            raise RuntimeError("the log is out of reach")
        entries = self.users.get(user, [])
        return [(n, f) for n, f in enumerate(entries, 1) if n > after][:limit]


@dataclass
class Node:
    """One "process": its hub and its backplane."""

    hub: Hub
    plane: RedisBackplane
    log: MemoryLog

    def connect(self, user: str, floor: int = 0) -> Outbox:
        box = self.hub.outbox(10_000, lambda: None)
        box.floor = floor  # the replay is done: it sent everything up to ``floor``
        assert self.hub.attach(user, box)
        return box

    def notify(self, user: str, text: str) -> int:
        seq, frame = self.log.append(user, text)
        self.plane.publish(user, seq, frame)
        return seq


@asynccontextmanager
async def nodes(urls: list[str], prefix: str, log: MemoryLog) -> AsyncIterator[list[Node]]:
    made = []
    for url in urls:
        hub = Hub()
        made.append(node := Node(hub, RedisBackplane(hub, log, url, prefix=prefix), log))
        await node.plane.start()
        assert node.plane.up
    try:
        yield made
    finally:
        for node in made:
            await node.plane.stop()


async def until(predicate: Callable[[], Any], what: str, timeout: float = 10) -> None:
    await poll(predicate, timeout, what)


def seqs(box: Outbox) -> list[int]:
    return [seq for seq, _ in box._frames if seq > box.floor]


def controls(box: Outbox) -> list[dict[str, Any]]:
    return [orjson.loads(frame) for seq, frame in box._frames if seq == 0]


async def test_frames_published_on_one_process_reach_the_others_once_in_order_as_sent(
    redis_url: str, redis_prefix: str
) -> None:
    log = MemoryLog()
    async with nodes([redis_url] * 3, redis_prefix, log) as (a, b, c):
        a1, a2, b1, c1 = a.connect("ann"), a.connect("ann"), b.connect("ann"), c.connect("ann")
        other = c.connect("bob")
        for i in range(200):
            b.notify("ann", f"n{i}")
        boxes = (a1, a2, b1, c1)
        await until(lambda: all(len(seqs(x)) >= 200 for x in boxes), "200 frames everywhere")
        await asyncio.sleep(0.2)
        for box in boxes:
            assert seqs(box) == list(range(1, 201))
        # the bytes the publisher serialized, not a re-encoding
        assert [f for s, f in c1._frames] == log.users["ann"]
        assert seqs(other) == []
        assert a.plane.filled == c.plane.filled == 0

        read = orjson.dumps({"type": "read", "all": True})
        a.plane.send_control("ann", read, exclude=a1)
        await until(lambda: all(controls(x) for x in (a2, b1, c1)), "the read frame")
        await asyncio.sleep(0.1)
        assert controls(a1) == [] and controls(other) == []
        assert [controls(x) for x in (a2, b1, c1)] == [[{"type": "read", "all": True}]] * 3


async def foreign(redis_url: str, prefix: str, *records: bytes) -> None:
    """Publish one message as another process would."""
    from redis.asyncio import Redis

    client = Redis.from_url(redis_url)
    try:
        await client.publish(f"{prefix}:frames", b"".join([MAGIC, b"x" * 16, *records]))
    finally:
        await client.aclose()


async def test_a_hole_is_read_from_the_log_and_late_or_repeated_frames_are_dropped(
    redis_url: str, redis_prefix: str
) -> None:
    log = MemoryLog()
    frames = [log.append("ann", f"n{i}") for i in range(1, 7)]

    def record(n: int) -> bytes:
        seq, frame = frames[n - 1]
        return encode_record(NOTIFICATION, "ann", seq, frame)

    async with nodes([redis_url], redis_prefix, log) as (a,):
        box = a.connect("ann")
        await foreign(redis_url, redis_prefix, record(1))
        await foreign(redis_url, redis_prefix, record(3))  # 2 was lost on the way
        await until(lambda: seqs(box) == [1, 2, 3], "the hole filled")
        assert a.plane.filled == 1
        # 2 arrives late, 3 twice, then 6 while 4 and 5 are still on their way
        await foreign(redis_url, redis_prefix, record(2), record(3), record(6))
        await foreign(redis_url, redis_prefix, record(4), record(5))
        await until(lambda: len(seqs(box)) >= 6, "six frames")
        await asyncio.sleep(0.1)
        assert seqs(box) == [1, 2, 3, 4, 5, 6]
        assert [f for _, f in box._frames] == [f for _, f in frames]
        assert a.plane.duplicates == 4  # 2, 3, and 4, 5 (read with the hole before 6)


async def test_two_processes_publishing_the_other_way_round_still_deliver_in_seq_order(
    redis_url: str, redis_prefix: str
) -> None:
    """B commits 1 and C commits 2, but C's frame is out first (a process's own connections
    get its frames without waiting for Redis, so C meets the hole too)."""
    log = MemoryLog()
    async with nodes([redis_url] * 3, redis_prefix, log) as (a, b, c):
        boxes = [a.connect("ann"), b.connect("ann"), c.connect("ann")]
        one, two = log.append("ann", "from B"), log.append("ann", "from C")
        c.plane.publish("ann", *two)
        await asyncio.sleep(0.05)
        b.plane.publish("ann", *one)
        await until(lambda: all(len(seqs(x)) >= 2 for x in boxes), "two frames everywhere")
        await asyncio.sleep(0.1)
        assert [seqs(x) for x in boxes] == [[1, 2]] * 3


async def test_redis_out_of_reach_each_process_serves_its_own_then_everyone_catches_up(
    redis_url: str, redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "grace_chat.hub.redis")
    proxy = await Proxy(redis_url).start()
    log = MemoryLog()
    try:
        async with nodes([proxy.url, redis_url], redis_prefix, log) as (a, b):
            a_ann, a_bob = a.connect("ann"), a.connect("bob")
            b_ann, b_bob = b.connect("ann"), b.connect("bob")
            await proxy.cut()
            await until(lambda: not a.plane.up, "A to notice")
            for i in range(5):
                a.notify("bob", f"from A {i}")  # A's own connection: at once
                b.notify("ann", f"from B {i}")  # B's own connection: at once
            assert seqs(a_bob) == [1, 2, 3, 4, 5] and seqs(b_ann) == [1, 2, 3, 4, 5]
            await asyncio.sleep(0.5)
            assert seqs(b_bob) == [] and seqs(a_ann) == []
            outage = [r for r in caplog.records if "out of reach" in r.getMessage()]
            assert len(outage) == 1, outage  # once per outage, not per frame
            assert "127.0.0.1" in outage[0].getMessage()

            await proxy.restore()
            await until(lambda: a.plane.up, "A to reach Redis again")
            # A re-reads ann (B's frames); B re-reads bob when A asks (A's frames)
            await until(lambda: len(seqs(a_ann)) == 5 and len(seqs(b_bob)) == 5, "catch-up")
            a.notify("bob", "after")
            b.notify("ann", "after")
            await until(lambda: len(seqs(a_ann)) == 6 and len(seqs(b_bob)) == 6, "live again")
            await asyncio.sleep(0.1)
            for box in (a_ann, a_bob, b_ann, b_bob):
                assert seqs(box) == [1, 2, 3, 4, 5, 6]
            back = [r for r in caplog.records if "answers again" in r.getMessage()]
            assert len(back) == 1 and len(caplog.records) == 2, caplog.records
    finally:
        await proxy.cut()


async def test_a_backplane_started_while_redis_is_away_serves_and_joins_later(
    redis_url: str, redis_prefix: str
) -> None:
    proxy = Proxy(redis_url)
    await proxy.start()
    url = proxy.url
    await proxy.cut()
    log = MemoryLog()
    async with nodes([redis_url], redis_prefix, log) as (b,):
        hub = Hub()
        a = Node(hub, RedisBackplane(hub, log, url, prefix=redis_prefix), log)
        started = asyncio.get_running_loop().time()
        await a.plane.start()  # waits a little for Redis, then serves without it
        try:
            assert not a.plane.up and asyncio.get_running_loop().time() - started < 5
            mine, theirs = a.connect("ann"), b.connect("ann")
            a.notify("ann", "while away")
            assert seqs(mine) == [1]
            await proxy.restore()
            await until(lambda: a.plane.up, "A to reach Redis")
            await until(lambda: seqs(theirs) == [1], "B to hear of it")
            b.notify("ann", "both up")
            await until(lambda: seqs(mine) == [1, 2], "A to get B's")
        finally:
            await a.plane.stop()
            await proxy.cut()


async def test_a_hole_the_log_cannot_fill_closes_the_users_connections_so_they_resume(
    redis_url: str, redis_prefix: str
) -> None:
    log = MemoryLog()
    frames = [log.append("ann", f"n{i}") for i in range(3)]
    async with nodes([redis_url], redis_prefix, log) as (a,):
        box, other = a.connect("ann"), a.connect("bob")
        log.fail = True
        await foreign(redis_url, redis_prefix, encode_record(NOTIFICATION, "ann", *frames[2]))
        await until(lambda: box.closed, "ann's connection closed")
        assert not other.closed


async def test_control_frames_from_another_process_reach_every_connection(
    redis_url: str, redis_prefix: str
) -> None:
    async with nodes([redis_url], redis_prefix, MemoryLog()) as (a,):
        boxes = [a.connect("ann"), a.connect("ann")]
        await foreign(redis_url, redis_prefix, encode_record(CONTROL, "ann", 0, b'{"type":"x"}'))
        await until(lambda: all(controls(x) for x in boxes), "the control frame")


def test_without_the_client_library_the_redis_url_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)
    monkeypatch.setitem(sys.modules, "redis.asyncio", None)
    with pytest.raises(ConfigError, match=r"pip install 'grace-chat\[redis\]'"):
        redis_backplane("redis://localhost", MemoryLog())


def test_the_settings_read_the_redis_url_and_prefix() -> None:
    s = Settings.from_env({"GRACE_REDIS_URL": "redis://r:6380/2", "GRACE_REDIS_PREFIX": "prod"})
    assert (s.redis_url, s.redis_prefix) == ("redis://r:6380/2", "prod")
    assert Settings.from_env({}).redis_url is None
    with pytest.raises(ConfigError, match="redis://"):
        Settings(redis_url="http://r:6379")
    with pytest.raises(ConfigError, match="redis_prefix"):
        Settings(redis_prefix="")
