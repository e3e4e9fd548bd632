"""What one durable commit of the embedded log costs, and what part of it a notification pays.

``python -m bench.commit_cost`` opens a fresh SQLite log (``SQLiteNotificationLog``, as ``grace
serve`` does, under uvloop), fills it a little, then appends notifications in transactions of
``--batches`` notifications each, one transaction at a time, and prints the process's CPU per
notification and per commit for each batch size and ``--sync`` mode. Two shapes:

* ``steady``: each notification to one random user of ``--users`` (the steady load's shape);
* ``burst``: each notification to every one of ``--users`` (the fan-out burst's shape); its
  figures are per entry (a notification for one recipient).

The last two batch sizes split the cost in two: what a commit costs whatever it holds, and what
each notification (entry) adds to it (CPU per notification = per commit / batch + each). Beside
them, the cost of the hop a commit makes to the writer thread and back (``run_in_executor`` of
nothing), once as the scheduler places the threads and once with the process on one CPU: on a
virtual machine, waking a thread on the other CPU costs far more than the work handed to it.

Nothing here is a target; it says where a commit's cost is, for ``docs/performance.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from bench.common import BADGE, MESSAGE, NOTIFICATION_TYPE, user_name
from grace_chat.notifications.model import Draft, Severity
from grace_chat.store.backends.sqlite_notifications import SQLiteNotificationLog

#: Entries written before timing starts (the tables and the page cache warm).
WARM = 4096
#: Notifications timed by default, per shape.
COUNT = {"steady": 16_000, "burst": 400}
T = TypeVar("T")


def _drafts(shape: str, users: list[str], rnd: random.Random, n: int, k: int) -> list[Draft]:
    everyone = tuple(users)
    return [
        Draft(
            recipients=everyone if shape == "burst" else (rnd.choice(users),),
            type=NOTIFICATION_TYPE,
            message=MESSAGE,
            badge=BADGE,
            severity=Severity.INFO,
            title="Task",
            data={"k": k + i, "t": time.time()},
        )
        for i in range(n)
    ]


async def measure(shape: str, batch: int, sync: str, count: int, users: int) -> dict[str, float]:
    """CPU and wall time per notification (per entry for ``burst``) appending ``count``
    notifications, ``batch`` to a transaction, to a fresh log with ``synchronous=sync``."""
    names = [user_name(i) for i in range(users)]
    rnd = random.Random(7)
    with tempfile.TemporaryDirectory(prefix="grace-commit-") as tmp:
        log = SQLiteNotificationLog(Path(tmp) / "grace.db", synchronous=sync)
        await log.open()
        try:
            warm = WARM // users if shape == "burst" else WARM
            for k in range(0, warm, batch):
                await log.append(_drafts(shape, names, rnd, batch, k))
            cpu0, wall0 = time.process_time(), time.perf_counter()
            for k in range(0, count, batch):
                await log.append(_drafts(shape, names, rnd, batch, k))
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        finally:
            await log.close()
    per = count * (users if shape == "burst" else 1)
    return {"cpu_us": cpu / per * 1e6, "wall_us": wall / per * 1e6, "commits": count / batch}


def hop_cost(rounds: int = 5000) -> float:
    """CPU µs of the process per round trip to a one-thread executor and back."""

    async def run() -> float:
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(1) as pool:
            await loop.run_in_executor(pool, int)
            started = time.process_time()
            for _ in range(rounds):
                await loop.run_in_executor(pool, int)
            return (time.process_time() - started) / rounds * 1e6

    return _run(run())


def _run(coro: Coroutine[Any, Any, T]) -> T:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop comes with the uvloop extra
        return asyncio.run(coro)
    return uvloop.run(coro)


def hop_both() -> tuple[float, float | None]:
    """The hop's cost as scheduled, then with the process on one CPU (``None`` where the
    system cannot say which CPUs a process may use)."""
    free = hop_cost()
    if not hasattr(os, "sched_getaffinity"):
        return free, None
    allowed = os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(0, {min(allowed)})
        return free, hop_cost()
    finally:
        os.sched_setaffinity(0, allowed)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.commit_cost", description=__doc__)
    parser.add_argument("--shape", choices=("steady", "burst"), default="steady")
    parser.add_argument("--batches", default="1,8,16", help="notifications per transaction")
    parser.add_argument("--sync", default="FULL,OFF", help="SQLite synchronous modes")
    parser.add_argument("--count", type=int, default=None, help="notifications timed")
    parser.add_argument("--users", type=int, default=500)
    args = parser.parse_args(argv)
    batches = [int(b) for b in args.batches.split(",")]
    count = args.count or COUNT[args.shape]
    fan = args.users if args.shape == "burst" else 1  # entries per notification
    unit = "notification" if fan == 1 else "entry"
    print(f"{args.shape}: {count:,} notifications to {args.users} users, one transaction at a time")
    print(f"| synchronous | batch | CPU µs/{unit} | wall µs/{unit} | CPU µs/commit |")
    print("|---|---|---|---|---|")
    for sync in (mode.strip().upper() for mode in args.sync.split(",")):
        rows = []
        for batch in batches:
            got = _run(measure(args.shape, batch, sync, count, args.users))
            rows.append((batch * fan, got["cpu_us"]))
            print(
                f"| {sync} | {batch} | {got['cpu_us']:.1f} | {got['wall_us']:.1f} "
                f"| {got['cpu_us'] * batch * fan:.0f} |"
            )
        if len(rows) >= 2 and rows[-2][0] != rows[-1][0]:
            (n1, c1), (n2, c2) = rows[-2], rows[-1]
            fixed = (c1 - c2) / (1 / n1 - 1 / n2)
            print(
                f"  {sync}: a commit costs {fixed:.0f} µs whatever it holds, "
                f"each {unit} {c2 - fixed / n2:.1f} µs more"
            )
    free, pinned = hop_both()
    one = f"{pinned:.1f} µs with the process on one CPU" if pinned is not None else "(one CPU: n/a)"
    print(f"the hop to the writer thread and back: {free:.1f} µs of CPU as scheduled, {one}")


if __name__ == "__main__":
    main()
