"""What the servers under test and the load generator agree on: users, plans, the control API.

Every server under test exposes the same loopback control endpoint, ``POST /bench/publish``, which
runs one publishing plan inside the server process (so the publisher is the server's own
notification call, not an HTTP request per notification) and ``GET /bench/status`` about it.
Each notification carries ``data = {"t": <server time.time_ns() at publish>, "k": <index>}``: the
load generator takes latency from ``t`` and checks, per connection, that every expected ``k``
arrived exactly once.
"""

from __future__ import annotations

import asyncio
import os
import random
import resource
import socket
import time
from collections.abc import Callable
from typing import Any, Protocol

NOTIFICATION_TYPE = "task_completed"
MESSAGE = "Deployment completed successfully"
BADGE = "✅"
STREAM_PATH = "/api/notifications/stream"
HOST = "127.0.0.1"


def user_name(index: int) -> str:
    return f"u{index}"


def targets(seed: int, count: int, users: int) -> list[int]:
    """The user index each notification of a random-user plan goes to (same on both sides)."""
    rng = random.Random(seed)
    return [rng.randrange(users) for _ in range(count)]


def home(user_index: int, parts: int) -> int:
    """The server process that user's clients connect to, of ``parts`` (see ``run_plan``)."""
    return user_index % parts


#: Connections opened from one loopback source address: one address reaches one server port
#: from at most the ephemeral ports (32768-60999 by default, about 28,000), so connection ``cid``
#: comes from ``127.0.0.{1 + cid // PER_SOURCE_ADDRESS}`` (all of 127.0.0.0/8 is loopback).
PER_SOURCE_ADDRESS = 25_000


def source_address(cid: int) -> str:
    """The loopback address connection ``cid`` of the load generator connects from."""
    return f"127.0.0.{1 + cid // PER_SOURCE_ADDRESS}"


def stamp(k: int) -> dict[str, int]:
    return {"t": time.time_ns(), "k": k}


def raise_fd_limit() -> int:
    """Raise the soft open-files limit as far as the hard limit allows; returns the new soft."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def bind_loopback() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, 0))
    sock.listen(4096)
    return sock


class Sink(Protocol):
    """How one server publishes: one notification to one user, or one to each of many users."""

    async def one(self, user: str, k: int) -> None: ...

    async def many(self, users: list[str], k: int) -> None: ...


async def run_plan(sink: Sink, spec: dict[str, Any]) -> int:
    """Publish what ``spec`` says; returns the number of notifications published.

    * ``burst`` / ``reconnect``: notifications ``k0 .. k0+count-1``, each to every user, over
      ``concurrency`` concurrent publishers;
    * ``storm``: ``count`` notifications to random users, ``concurrency`` publishers, as fast as
      the server takes them;
    * ``steady``: ``rate`` notifications per second to random users for ``duration`` seconds.

    The random users of ``storm`` and ``steady`` are ``spec["plan"]`` (a user index per
    notification) when the spec carries it, as the harness's does (``runner.with_plan``: the
    Node.js servers cannot draw from Python's generator), otherwise ``targets(spec["seed"], ...)``.

    With ``parts`` > 1 (several server processes, each running the same plan) this process
    publishes only its ``part``: of ``burst`` / ``reconnect``, the ``k`` with ``k % parts == part``;
    of ``storm`` / ``steady``, the notifications to users ``u`` with ``(u + 1) % parts == part``.
    Clients of user ``u`` connect to process ``u % parts`` (``home``), so every one of those
    is published on a process other than its receivers' and crosses the backplane.
    """
    scenario = spec["scenario"]
    users = [user_name(i) for i in range(int(spec["users"]))]
    count = int(spec["count"])
    lanes = max(1, int(spec.get("concurrency", 1)))
    k0 = int(spec.get("k0", 0))
    parts = max(1, int(spec.get("parts", 1)))
    part = int(spec.get("part", 0))
    if scenario in ("burst", "reconnect"):
        mine_k = [k for k in range(k0, k0 + count) if k % parts == part]

        async def lane_all(j: int) -> None:
            for k in mine_k[j::lanes]:
                await sink.many(users, k)

        await asyncio.gather(*(lane_all(j) for j in range(lanes)))
        return len(mine_k) * len(users)
    plan = spec.get("plan")
    if plan is None:
        plan = targets(int(spec["seed"]), count, len(users))
    elif len(plan) != count:
        raise ValueError(f"a {scenario} plan of {len(plan)} targets for {count} notifications")
    mine = [(u + 1) % parts == part for u in plan]
    if scenario == "storm":
        ks = [k for k in range(count) if mine[k]]

        async def lane_one(j: int) -> None:
            for k in ks[j::lanes]:
                await sink.one(users[plan[k]], k)

        await asyncio.gather(*(lane_one(j) for j in range(lanes)))
        return len(ks)
    if scenario == "steady":
        rate = float(spec["rate"])
        loop = asyncio.get_running_loop()
        pending: set[asyncio.Task[None]] = set()
        start = loop.time()
        sent = 0
        while sent < count:
            due = min(count, int((loop.time() - start) * rate) + 1)
            while sent < due:
                if mine[sent]:
                    task = loop.create_task(sink.one(users[plan[sent]], sent))
                    pending.add(task)
                    task.add_done_callback(pending.discard)
                sent += 1
            await asyncio.sleep(0.002)  # pacing a fixed-rate publisher, not waiting for anything
        if pending:
            await asyncio.gather(*pending)
        return sum(mine)
    raise ValueError(f"unknown scenario {scenario!r}")


class Publisher:
    """One publishing plan at a time, run in the server's event loop."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.task: asyncio.Task[None] | None = None
        self.state: dict[str, Any] = {"running": False}

    async def _run(self, spec: dict[str, Any]) -> None:
        started = time.perf_counter()
        self.state = {"running": True, "scenario": spec["scenario"]}
        try:
            published = await run_plan(self.sink, spec)
            self.state = {
                "running": False,
                "published": published,
                "seconds": time.perf_counter() - started,
            }
        except Exception as exc:  # reported to the load generator, which fails loudly
            self.state = {"running": False, "error": f"{type(exc).__name__}: {exc}"}

    async def start(self, spec: dict[str, Any], wait: bool) -> dict[str, Any]:
        if self.task is not None and not self.task.done():
            return {"error": "a plan is already running"}
        self.task = asyncio.get_running_loop().create_task(self._run(spec))
        if wait:
            await self.task
        return self.state


def control_routes(publisher: Publisher) -> list[Any]:
    """Starlette routes: ``GET /bench/health``, ``POST /bench/publish``, ``GET /bench/status``."""
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    async def publish(request: Request) -> JSONResponse:
        spec = await request.json()
        state = await publisher.start(spec, bool(spec.get("wait")))
        return JSONResponse(state, status_code=409 if "error" in state else 200)

    async def status(request: Request) -> JSONResponse:
        return JSONResponse(publisher.state)

    return [
        Route("/bench/health", health, methods=["GET"]),
        Route("/bench/publish", publish, methods=["POST"]),
        Route("/bench/status", status, methods=["GET"]),
    ]


def serve_uvicorn(app: Any, make: Callable[[Any], Any] | None = None) -> None:
    """Bind a loopback port, announce it on stdout, run ``app`` under uvicorn until SIGINT."""
    import uvicorn

    raise_fd_limit()
    sock = bind_loopback()
    print(f"LISTEN {sock.getsockname()[1]}", flush=True)
    if make is not None:
        server = make(app)
    else:
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                log_level="warning",
                ws_max_size=1024 * 1024,
                ws_ping_interval=20.0,
                ws_ping_timeout=20.0,
                # uvicorn's default (on); the deflate curve turns it off with BENCH_WS_DEFLATE=0
                ws_per_message_deflate=os.environ.get("BENCH_WS_DEFLATE", "1") != "0",
                timeout_graceful_shutdown=2,
                access_log=False,
                lifespan="on",
            )
        )
    server.run(sockets=[sock])
