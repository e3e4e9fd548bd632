"""The load generator: one OS process per worker, many WebSocket connections each (picows).

A worker obeys commands from the orchestrator over a pipe and answers each:

* ``("connect", kind, port, conns)`` opens the connections ``[(cid, user), ...]`` (or
  ``(cid, user, port)``: that one to another server process), each from the loopback address
  ``source_address(cid)`` (beyond 25,000 connections, several), and answers once each one is
  registered by the server (Grace: ``synced``; seed: ``welcome``; socket.io: the namespace
  ``CONNECT`` ack);
* ``("failover", ports)``: from now on a Grace connection that the server ends reconnects at
  once to another of ``ports`` with ``since=<last seq>`` (a process of several was killed);
* ``("arm", expect)`` says what each user must now receive: ``{"mode": "range", "lo", "hi"}``
  (every ``k`` in ``[lo, hi)``) or ``{"mode": "targets", "seed", "count", "users"}``;
* ``("wait", timeout)`` answers when every connection has everything (or at the timeout) with
  counts, losses, duplicates, sequence errors and the latencies;
* ``("drop",)`` closes every connection, remembering each one's last ``seq``;
* ``("reconnect", timeout)`` reopens them all at once with ``since=<last seq>``;
* ``("close",)`` ends the worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Container
from multiprocessing.connection import Connection
from typing import Any

import orjson
from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

from bench.common import HOST, STREAM_PATH, raise_fd_limit, source_address, targets, user_name

CONNECT_CONCURRENCY = 256


class State:
    """What one logical client has received, kept across reconnects."""

    __slots__ = (
        "cid",
        "done",
        "expected",
        "got",
        "last_seq",
        "port",
        "remaining",
        "transport",
        "user",
    )

    def __init__(self, cid: int, user: str, port: int = 0) -> None:
        self.cid = cid
        self.user = user
        self.port = port
        self.got: set[int] = set()
        self.expected: Container[int] = ()
        self.remaining = 0
        self.done = True
        self.last_seq: int | None = None
        self.transport: WSTransport | None = None


class Worker:
    def __init__(self) -> None:
        self.states: list[State] = []
        self.kind = "grace"
        self.port = 0
        self.pending = 0
        self.finished: asyncio.Event = asyncio.Event()
        self.done_ns = 0
        self.latencies: list[int] = []
        self.delivered = 0
        self.dups = 0
        self.unexpected = 0
        self.seq_errors = 0
        self.errors = 0
        self.failover_ports: list[int] = []
        self.dropping = False
        self.moved = 0
        self.moved_ns = 0
        self.move_failures = 0
        self.moves: set[asyncio.Task[None]] = set()

    # -- receiving ------------------------------------------------------------------------

    def notification(self, st: State, frame: dict[str, Any], now: int) -> None:
        data = frame["data"]
        k = data["k"]
        self.delivered += 1
        if k in st.got:
            self.dups += 1
            return
        if k not in st.expected:
            self.unexpected += 1
            return
        st.got.add(k)
        self.latencies.append(now - data["t"])
        st.remaining -= 1
        if st.remaining == 0 and not st.done:
            st.done = True
            self.pending -= 1
            if self.pending == 0:
                self.done_ns = now
                self.finished.set()

    def grace_seq(self, st: State, seq: int) -> None:
        if st.last_seq is not None and seq != st.last_seq + 1:
            self.seq_errors += 1
        st.last_seq = seq

    # -- connections ----------------------------------------------------------------------

    def url(self, st: State, since: int | None) -> str:
        port = st.port or self.port
        if self.kind == "socketio":
            return f"ws://{HOST}:{port}/socket.io/?EIO=4&transport=websocket&user_id={st.user}"
        url = f"ws://{HOST}:{port}{STREAM_PATH}?user_id={st.user}"
        return url if since is None else f"{url}&since={since}"

    async def open(self, st: State, since: int | None) -> None:
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        listener = Listener(self, st, ready)
        source = source_address(st.cid)
        # Past the first address's share of ports, from another loopback address.
        where = {} if source == HOST else {"local_addr": (source, 0)}
        transport, _ = await ws_connect(
            lambda: listener, self.url(st, since), websocket_handshake_timeout=60, **where
        )
        st.transport = transport
        await asyncio.wait_for(ready, 60)

    async def open_all(self, states: list[State], since: bool) -> int:
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
        failures = 0

        async def one(st: State) -> None:
            nonlocal failures
            async with gate:
                try:
                    await self.open(st, (st.last_seq or 0) if since else None)
                except Exception:
                    failures += 1

        await asyncio.gather(*(one(st) for st in states))
        return failures

    def lost_connection(self, st: State, transport: WSTransport) -> None:
        """A connection the server ended: with failover on, it moves to another process."""
        if self.dropping or not self.failover_ports or st.transport is not transport:
            return
        st.transport = None
        task = asyncio.get_running_loop().create_task(self.move(st))
        self.moves.add(task)
        task.add_done_callback(self.moves.discard)

    async def move(self, st: State) -> None:
        others = [p for p in self.failover_ports if p != st.port] or self.failover_ports
        for attempt in range(20):
            st.port = others[(st.cid + attempt) % len(others)]
            try:
                await self.open(st, st.last_seq or 0)
                self.moved += 1
                self.moved_ns = max(self.moved_ns, time.time_ns())
                return
            except Exception:
                await asyncio.sleep(0.05)  # the next process, after a beat: it may be starting
        self.move_failures += 1

    async def drop_all(self) -> None:
        self.dropping = True
        for st in self.states:
            if st.transport is not None:
                st.transport.disconnect()
        for st in self.states:
            if st.transport is not None:
                await st.transport.wait_disconnected()
                st.transport = None
        self.dropping = False

    def arm(self, expect: dict[str, Any]) -> None:
        per_user: dict[str, Container[int]] = {}
        sizes: dict[str, int] = {}
        if expect["mode"] == "range":
            r = range(int(expect["lo"]), int(expect["hi"]))
            for st in self.states:
                per_user[st.user] = r
                sizes[st.user] = len(r)
        else:
            plan = targets(int(expect["seed"]), int(expect["count"]), int(expect["users"]))
            sets: dict[str, set[int]] = {}
            for k, u in enumerate(plan):
                sets.setdefault(user_name(u), set()).add(k)
            for st in self.states:
                s = sets.get(st.user, set())
                per_user[st.user] = s
                sizes[st.user] = len(s)
        self.pending = 0
        self.finished = asyncio.Event()
        self.done_ns = 0
        self.latencies = []
        self.delivered = self.dups = self.unexpected = self.seq_errors = 0
        for st in self.states:
            st.got = set()
            st.expected = per_user[st.user]
            st.remaining = sizes[st.user]
            st.done = st.remaining == 0
            if not st.done:
                self.pending += 1
        if self.pending == 0:
            self.finished.set()

    def report(self) -> dict[str, Any]:
        missing = sum(st.remaining for st in self.states)
        return {
            "connections": len(self.states),
            "delivered": self.delivered,
            "unique": len(self.latencies),
            "lost": missing,
            "incomplete": sum(1 for st in self.states if not st.done),
            "dups": self.dups,
            "unexpected": self.unexpected,
            "seq_errors": self.seq_errors,
            "errors": self.errors + self.move_failures,
            "moved": self.moved,
            "moved_ns": self.moved_ns,
            "done_ns": self.done_ns,
            "latencies_ns": self.latencies,
        }


_DATA = (WSMsgType.TEXT, WSMsgType.CONTINUATION, WSMsgType.BINARY)


def whole_message(parts: list[bytes], frame: WSFrame) -> bytes | None:
    """The message a data frame completes, its earlier fragments kept in ``parts`` (emptied
    then); None for a fragment that is not the last, or a frame that carries no data."""
    if frame.msg_type not in _DATA:
        return None
    payload = frame.get_payload_as_bytes()
    if not frame.fin:
        parts.append(payload)
        return None
    if parts:
        payload = b"".join([*parts, payload])
        parts.clear()
    return payload


class Listener(WSListener):  # type: ignore[misc]
    def __init__(self, worker: Worker, st: State, ready: asyncio.Future[None]) -> None:
        super().__init__()
        self.w = worker
        self.st = st
        self.ready = ready
        self.parts: list[bytes] = []

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        kind = frame.msg_type
        if kind == WSMsgType.CLOSE:
            with contextlib.suppress(Exception):
                transport.send_close(frame.get_close_code())
            transport.disconnect()
            return
        payload = whole_message(self.parts, frame)
        if payload is None:
            return
        now = time.time_ns()
        try:
            self.handle(transport, payload, now)
        except Exception:
            self.w.errors += 1

    def handle(self, transport: WSTransport, payload: bytes, now: int) -> None:
        w, st = self.w, self.st
        if w.kind == "grace":
            for line in payload.split(b"\n"):
                f = orjson.loads(line)
                t = f["type"]
                if t == "synced":
                    if st.last_seq is None:
                        st.last_seq = f["seq"]
                    elif f["seq"] != st.last_seq:
                        w.seq_errors += 1
                    if not self.ready.done():
                        self.ready.set_result(None)
                elif t == "welcome" or t == "pong":
                    pass
                elif t == "error":
                    w.errors += 1
                else:
                    w.grace_seq(st, f["seq"])
                    w.notification(st, f, now)
        elif w.kind == "seed":
            f = orjson.loads(payload)
            t = f["type"]
            if t == "welcome":
                if not self.ready.done():
                    self.ready.set_result(None)
            elif t != "pong":
                w.notification(st, f, now)
        else:  # socket.io over engine.io v4
            if payload.startswith(b"42"):
                event = orjson.loads(payload[2:])
                if event[0] == "notification":
                    w.notification(st, event[1], now)
            elif payload == b"2":
                transport.send(WSMsgType.TEXT, b"3")
            elif payload.startswith(b"40"):
                if not self.ready.done():
                    self.ready.set_result(None)
            elif payload.startswith(b"0"):
                transport.send(WSMsgType.TEXT, b"40")
            elif payload.startswith(b"44"):
                w.errors += 1

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("disconnected before ready"))
        else:
            self.w.lost_connection(self.st, transport)


async def serve(pipe: Connection) -> None:
    loop = asyncio.get_running_loop()
    worker = Worker()

    async def recv() -> Any:
        return await loop.run_in_executor(None, pipe.recv)

    while True:
        cmd = await recv()
        op = cmd[0]
        if op == "connect":
            _, worker.kind, worker.port, conns = cmd
            fresh = [State(*c) for c in conns]
            worker.states.extend(fresh)
            started = time.perf_counter()
            failures = await worker.open_all(fresh, since=False)
            pipe.send({"failures": failures, "seconds": time.perf_counter() - started})
        elif op == "arm":
            worker.arm(cmd[1])
            pipe.send({"armed": True})
        elif op == "wait":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(worker.finished.wait(), cmd[1])
            pipe.send(worker.report())
        elif op == "drop":
            await worker.drop_all()
            pipe.send({"dropped": len(worker.states)})
        elif op == "reconnect":
            started = time.perf_counter()
            failures = await worker.open_all(worker.states, since=True)
            pipe.send({"failures": failures, "seconds": time.perf_counter() - started})
        elif op == "failover":
            worker.failover_ports = list(cmd[1])
            pipe.send({"failover": True})
        elif op == "close":
            worker.dropping = True
            pipe.send({"closed": True})
            return


def worker_main(pipe: Connection) -> None:
    raise_fd_limit()
    try:
        import uvloop

        uvloop.run(serve(pipe))
    except ImportError:  # pragma: no cover - uvloop comes with the uvloop extra
        asyncio.run(serve(pipe))
