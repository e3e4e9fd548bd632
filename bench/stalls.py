"""What stalls a server under test, measured inside it (``GET /bench/stalls``, Grace only).

Since the previous call: the garbage collector's pauses (``gc.callbacks``), the event loop's lag
(a task asking to wake every ``TICK`` seconds, and how late it woke), and the SQLite WAL
checkpoints (their time on the checkpoint thread). The soak curve reads and resets it each
interval, beside the store's own commit-time histogram in ``/metrics``. Also the CPU time the
SQLite writer thread spends in its writes (``time.thread_time``), how many it ran and their wall
time (a write's wall time without its wait for the thread), and the writer's own checkpoints
that start the WAL over (their time: the commits behind one wait that long).
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable
from typing import Any

from grace_chat.store.backends.sqlite_db import SQLiteDatabase

TICK = 0.01


class Worst:
    """Count, total and maximum of durations (seconds), and how many went over 10 and 50 ms."""

    __slots__ = ("count", "max", "over10", "over50", "total")

    def __init__(self) -> None:
        self.count = 0
        self.total = self.max = 0.0
        self.over10 = self.over50 = 0

    def add(self, seconds: float) -> None:
        self.count += 1
        self.total += seconds
        self.max = max(self.max, seconds)
        self.over10 += seconds > 0.010
        self.over50 += seconds > 0.050

    def as_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "total_ms": self.total * 1e3,
            "max_ms": self.max * 1e3,
            "over_10ms": self.over10,
            "over_50ms": self.over50,
        }


def _wall_timed(name: str, record: Callable[[float], None]) -> None:
    """Wrap ``SQLiteDatabase.<name>`` so that each call's wall time goes to ``record``."""
    original = getattr(SQLiteDatabase, name)

    def timed(db: SQLiteDatabase, *args: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(db, *args)
        finally:
            record(time.perf_counter() - started)

    setattr(SQLiteDatabase, name, timed)


class Stalls:
    def __init__(self) -> None:
        self.gc = {0: Worst(), 1: Worst(), 2: Worst()}
        self.lag = Worst()
        self.checkpoints = Worst()
        self.writes = Worst()  # CPU seconds of each write on the writer thread
        self.write_wall = Worst()  # wall seconds of each write on the writer thread
        self.restarts = Worst()  # the writer's own checkpoints, which start the WAL over
        self._gc_started = 0.0
        self._ticker: asyncio.Task[None] | None = None
        gc.callbacks.append(self._on_gc)
        stalls = self
        _wall_timed("_run_checkpoint", lambda s: stalls.checkpoints.add(s))
        _wall_timed("_finish_checkpoint", lambda s: stalls.restarts.add(s))
        write_now = SQLiteDatabase._write_now

        def counted(db: SQLiteDatabase, fn: Any) -> Any:
            started, wall = time.thread_time(), time.perf_counter()
            try:
                return write_now(db, fn)
            finally:
                stalls.writes.add(time.thread_time() - started)
                stalls.write_wall.add(time.perf_counter() - wall)

        SQLiteDatabase._write_now = counted  # type: ignore[method-assign,assignment]

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            self.gc[info["generation"]].add(time.perf_counter() - self._gc_started)

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + TICK
            await asyncio.sleep(TICK)
            self.lag.add(max(0.0, loop.time() - due))

    def take(self) -> dict[str, Any]:
        if self._ticker is None:
            self._ticker = asyncio.get_running_loop().create_task(self._tick())
        out = {
            "gc": {str(g): w.as_dict() for g, w in self.gc.items()},
            "loop_lag": self.lag.as_dict(),
            "checkpoints": self.checkpoints.as_dict(),
            "writer_cpu": self.writes.as_dict(),
            "writer_wall": self.write_wall.as_dict(),
            "wal_restarts": self.restarts.as_dict(),
        }
        self.gc = {0: Worst(), 1: Worst(), 2: Worst()}
        self.lag = Worst()
        self.checkpoints = Worst()
        self.writes = Worst()
        self.write_wall = Worst()
        self.restarts = Worst()
        return out

    def route(self) -> Any:
        from starlette.requests import Request
        from starlette.responses import JSONResponse
        from starlette.routing import Route

        async def stalls(request: Request) -> JSONResponse:
            return JSONResponse(self.take())

        return Route("/bench/stalls", stalls, methods=["GET"])
