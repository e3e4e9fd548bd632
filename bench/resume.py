"""One Grace client resuming from a ``seq``: what it got and how long it took (picows).

``resume(port, user, since)`` opens the notification stream with ``since=<seq>``, reads the
welcome, the replayed notifications and ``synced``, checks that the replay is exactly
``since + 1 .. head`` (no hole, no repeat) and closes. ``resume_many`` does that for several
clients at once. Used by the start-up and replay curves.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import orjson
from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

from bench.client import whole_message
from bench.common import HOST, STREAM_PATH


@dataclass
class Resumed:
    user: str
    since: int
    head: int = -1
    replayed: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.errors and self.head >= 0 and self.replayed == self.head - self.since


class _Listener(WSListener):  # type: ignore[misc]
    def __init__(self, out: Resumed, done: asyncio.Future[None]) -> None:
        self.out = out
        self.done = done
        self.parts: list[bytes] = []
        self.next_seq = out.since + 1

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        kind = frame.msg_type
        if kind == WSMsgType.CLOSE:
            transport.disconnect()
            return
        payload = whole_message(self.parts, frame)
        if payload is None:
            return
        for line in payload.split(b"\n"):
            self.frame(orjson.loads(line))

    def frame(self, f: dict[str, object]) -> None:
        t = f["type"]
        out = self.out
        if t == "welcome":
            out.head = int(f["seq"])  # type: ignore[call-overload]
        elif t == "synced":
            if f["seq"] != out.head:
                out.errors.append(f"synced at {f['seq']}, head {out.head}")
            if not self.done.done():
                self.done.set_result(None)
        elif t == "error":
            out.errors.append(str(f))
        elif "seq" in f:
            if f["seq"] != self.next_seq:
                out.errors.append(f"seq {f['seq']} where {self.next_seq} was due")
            self.next_seq = int(f["seq"]) + 1  # type: ignore[call-overload]
            out.replayed += 1

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        if not self.done.done():
            self.done.set_exception(ConnectionError("the server closed before synced"))


async def resume(port: int, user: str, since: int, timeout: float = 120.0) -> Resumed:
    out = Resumed(user, since)
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    started = time.perf_counter()
    url = f"ws://{HOST}:{port}{STREAM_PATH}?user_id={user}&since={since}"
    transport, _ = await ws_connect(
        lambda: _Listener(out, done), url, websocket_handshake_timeout=timeout
    )
    try:
        await asyncio.wait_for(done, timeout)
        out.seconds = time.perf_counter() - started
    except (TimeoutError, ConnectionError) as exc:
        out.errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        transport.disconnect()
        await transport.wait_disconnected()
    return out


async def resume_many(
    port: int, wants: list[tuple[str, int]], timeout: float = 300.0
) -> tuple[list[Resumed], float]:
    """Every ``(user, since)`` resumes at once; returns each result and the time until the last
    one has synced."""
    started = time.perf_counter()
    results = await asyncio.gather(*(resume(port, u, s, timeout) for u, s in wants))
    return list(results), time.perf_counter() - started
