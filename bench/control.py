"""A command's round trip across processes: cancel on A of a task that B runs.

``python -m bench.control`` makes a PostgreSQL database of its own on the server of ``--url``
(dropped at the end) and a Redis channel prefix of its own, starts two ``grace serve`` processes
on them (A and B), and connects a WebSocket client of one user to A. Each round starts a task on
B (REST, not timed), waits until it runs, then sends ``cancel_task`` on A and times two things:
until the reply (the owner applied the cancel) and until the ``task_cancelled`` notification has
also arrived on the same socket. It does that ``--rounds`` times at rest, then again while a
steady notification load (``--rate`` per second, published on B for ``--users`` users whose
clients are on A, from a process of its own) runs, and prints p50 / p99 / max of both for each.
Target: p99 ≤ 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import websockets

from bench.store_pg import DEFAULT_URL, admin, with_database
from grace_chat.auth import TokenAuthority

#: Publishes in flight at once under load.
INFLIGHT = 16
SECRET = "the-control-benchmark-signing-secret-32+"
TOKENS = TokenAuthority(SECRET, 3600)
BANNER = re.compile(r"Grace is running at (http://127\.0\.0\.1:\d+)/")
SERVE = """
import asyncio, sys
from grace_chat.cli import main, server
from grace_chat.tasks.types import TaskSpec


async def wait(ctx):
    while True:
        await ctx.checkpoint()
        await asyncio.sleep(0.01)


def prepare(grace):
    grace.tasks.types.add(TaskSpec("bench-wait", fn=wait))


serve = server.run_server
server.run_server = lambda settings, user, _prepare=None: serve(settings, user, prepare)
sys.exit(main(["serve", *sys.argv[1:]]))
"""


class Process:
    def __init__(self, proc: asyncio.subprocess.Process, url: str) -> None:
        self.proc = proc
        self.url = url

    @classmethod
    async def start(cls, data_dir: Path, env: dict[str, str]) -> Process:
        _prepare(data_dir)
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            SERVE,
            "--port",
            "0",
            "--data-dir",
            str(data_dir),
            "--log-level",
            "warning",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        assert proc.stdout is not None
        async with asyncio.timeout(30):
            while line := (await proc.stdout.readline()).decode():
                if found := BANNER.search(line):
                    asyncio.get_running_loop().create_task(_drain(proc.stdout))
                    return cls(proc, found[1])
        raise RuntimeError("grace serve did not start")

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.terminate()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(15):
                    await self.proc.wait()
            if self.proc.returncode is None:
                self.proc.kill()
                await self.proc.wait()


def _prepare(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    (data_dir / "grace.toml").write_text("[guardian]\nmetrics = []\n")


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.readline():
        pass


class Chat:
    """One user's WebSocket on a process: replies by ref, notifications by task id."""

    def __init__(self, user: str) -> None:
        self.user = user
        self.replies: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.cancelled: dict[str, asyncio.Future[None]] = {}
        self.received = 0
        self.ws: Any = None
        self.reader: asyncio.Task[None] | None = None

    async def open(self, url: str) -> None:
        self.ws = await websockets.connect(
            url.replace("http", "ws", 1) + "/api/notifications/stream"
        )
        token = TOKENS.issue(self.user)
        await self.ws.send(orjson.dumps({"type": "hello", "token": token}).decode())
        self.reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for message in self.ws:
                for line in str(message).split("\n"):
                    frame = orjson.loads(line)
                    if "ref" in frame and frame["ref"] in self.replies:
                        self.replies[frame["ref"]].set_result(frame)
                    elif "seq" in frame and "id" in frame:  # a notification
                        self.received += 1
                        task = (frame.get("data") or {}).get("task_id")
                        if frame.get("type") == "task_cancelled" and task in self.cancelled:
                            self.cancelled[task].set_result(None)

    async def cancel(self, task_id: str) -> tuple[float, float]:
        """Seconds until the reply, and until both the reply and the notification came."""
        loop = asyncio.get_running_loop()
        ref = uuid.uuid4().hex[:8]
        reply = self.replies[ref] = loop.create_future()
        told = self.cancelled[task_id] = loop.create_future()
        started = time.perf_counter()
        await self.ws.send(
            orjson.dumps({"type": "cancel_task", "id": ref, "task_id": task_id}).decode()
        )
        frame = await asyncio.wait_for(reply, 10)
        replied = time.perf_counter() - started
        if frame.get("type") != "task":
            raise RuntimeError(f"cancel answered {frame}")
        await asyncio.wait_for(told, 10)
        return replied, time.perf_counter() - started

    async def close(self) -> None:
        await self.ws.close()
        if self.reader is not None:
            await self.reader


async def running_task(a: httpx.AsyncClient, b: httpx.AsyncClient) -> str:
    response = await b.post("/api/tasks", json={"task_type": "bench-wait"})
    response.raise_for_status()
    task_id: str = response.json()["task_id"]
    deadline = time.monotonic() + 10
    while (await a.get(f"/api/tasks/{task_id}")).json()["state"] != "running":
        if time.monotonic() > deadline:
            raise RuntimeError(f"task {task_id} did not start")
        await asyncio.sleep(0.005)
    return task_id


async def steady_load(b_url: str, users: list[str], rate: float, stop: asyncio.Event) -> int:
    """Publish ``rate`` notifications a second on B, round-robin over ``users``."""
    sent = 0
    headers = {"Authorization": f"Bearer {TOKENS.issue('backend', admin=True)}"}
    async with httpx.AsyncClient(base_url=b_url, headers=headers, timeout=10) as http:
        pending: set[asyncio.Task[Any]] = set()
        in_flight = asyncio.Semaphore(INFLIGHT)

        async def publish(body: dict[str, Any]) -> None:
            try:
                (await http.post("/api/notifications/publish", json=body)).raise_for_status()
            finally:
                in_flight.release()

        def done(job: asyncio.Task[Any]) -> None:
            pending.discard(job)
            if not job.cancelled() and job.exception() is not None:
                failed.append(job.exception())

        failed: list[BaseException | None] = []
        started = time.perf_counter()
        while not stop.is_set():
            due = started + sent / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            await in_flight.acquire()  # behind: the rate reached is what it prints
            body = {"user_id": users[sent % len(users)], "type": "info", "message": f"#{sent}"}
            job = asyncio.get_running_loop().create_task(publish(body))
            pending.add(job)
            job.add_done_callback(done)
            sent += 1
        await asyncio.gather(*pending, return_exceptions=True)
    if failed:
        raise RuntimeError(f"{len(failed)} publishes failed: {failed[0]!r}")
    return sent


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def line(name: str, values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return (
        f"  {name:<28} p50 {percentile(ms, 0.5):6.1f} ms   p99 {percentile(ms, 0.99):6.1f} ms"
        f"   max {max(ms):6.1f} ms"
    )


async def rounds(chat: Chat, a: Process, b: Process, count: int) -> tuple[list[float], ...]:
    replies, totals = [], []
    token = {"Authorization": f"Bearer {TOKENS.issue(chat.user)}"}
    async with (
        httpx.AsyncClient(base_url=a.url, headers=token, timeout=10) as on_a,
        httpx.AsyncClient(base_url=b.url, headers=token, timeout=10) as on_b,
    ):
        for _ in range(count):
            task_id = await running_task(on_a, on_b)
            replied, total = await chat.cancel(task_id)
            replies.append(replied)
            totals.append(total)
    return replies, totals


@contextlib.asynccontextmanager
async def cluster(url: str, redis_url: str) -> AsyncIterator[tuple[Process, Process]]:
    name = f"grace_bench_control_{uuid.uuid4().hex[:8]}"
    await admin(url, f'CREATE DATABASE "{name}"')
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("GRACE_") or k.startswith("GRACE_CLUSTER_")  # the cluster's tuning
    }
    env.update(
        GRACE_DATABASE_URL=with_database(url, name),
        GRACE_REDIS_URL=redis_url,
        GRACE_REDIS_PREFIX=f"bench-{uuid.uuid4().hex[:8]}",
        GRACE_SECRET=SECRET,
        # one client sends every round's cancel: the per-connection command budget (20 a second
        # by default) is not what this measures
        GRACE_COMMAND_RATE="1000",
        GRACE_COMMAND_BURST="1000",
        GRACE_USER_COMMAND_RATE="2000",
        GRACE_USER_COMMAND_BURST="2000",
    )
    processes: list[Process] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for tag in ("a", "b"):  # one after the other: the first migrates the schema
                processes.append(await Process.start(Path(tmp) / tag, env))
            yield processes[0], processes[1]
    finally:
        for process in processes:
            await process.stop()
        await admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def run(args: argparse.Namespace) -> None:
    async with cluster(args.url, args.redis_url) as (a, b):
        chat = Chat("ann")
        await chat.open(a.url)
        await rounds(chat, a, b, 5)  # warm-up: connections, statements
        print(f"cancel on A of a task on B, {args.rounds} rounds each (two grace serve processes)")
        replies, totals = await rounds(chat, a, b, args.rounds)
        print("at rest")
        print(line("reply", replies))
        print(line("reply + task_cancelled", totals))
        load = await asyncio.create_subprocess_exec(  # its own process: its own core time
            sys.executable,
            "-m",
            "bench.control",
            "--load",
            a.url,
            b.url,
            "--rate",
            str(args.rate),
            "--users",
            str(args.users),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert load.stdin is not None and load.stdout is not None
        await load.stdout.readline()  # "ready": its clients are connected, the load runs
        replies, totals = await rounds(chat, a, b, args.rounds)
        load.stdin.close()
        report = (await load.stdout.read()).decode().strip()
        await load.wait()
        print(f"under load: {report}")
        print(line("reply", replies))
        print(line("reply + task_cancelled", totals))
        await chat.close()


async def load_only(a_url: str, b_url: str, rate: float, count: int) -> None:
    """The load of ``--load``: clients of ``count`` users on A, ``rate`` notifications a second
    published for them on B, until stdin closes; then one line of what it did."""
    users = [f"reader{n}" for n in range(count)]
    readers = [Chat(u) for u in users]
    for reader in readers:
        await reader.open(a_url)
    stop = asyncio.Event()
    started = time.perf_counter()
    load = asyncio.get_running_loop().create_task(steady_load(b_url, users, rate, stop))
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.read)
    stop.set()
    sent = await load
    elapsed = time.perf_counter() - started
    await asyncio.sleep(0.5)
    received = sum(r.received for r in readers)
    for reader in readers:
        await reader.close()
    print(
        f"{sent / elapsed:.0f} notifications/s published on B for {count} users connected to "
        f"A ({sent} sent, {received} received; a process of its own)",
        flush=True,
    )


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.control", description=__doc__)
    p.add_argument("--url", default=DEFAULT_URL, help="a PostgreSQL server's admin database")
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    p.add_argument("--rounds", type=int, default=100)
    p.add_argument("--rate", type=float, default=200.0, help="notifications a second, loaded")
    p.add_argument("--users", type=int, default=20)
    p.add_argument("--load", nargs=2, metavar=("A_URL", "B_URL"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.load:
        asyncio.run(load_only(args.load[0], args.load[1], args.rate, args.users))
    else:
        asyncio.run(run(args))


if __name__ == "__main__":
    main()
