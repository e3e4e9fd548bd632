"""Appends to the notification log on PostgreSQL: asyncpg against psycopg 3, and Grace's own log.

``python -m bench.store_pg`` makes a database of its own on the server of ``--url`` (dropped at
the end) and runs, for each driver, the notification log's append transaction as the PostgreSQL
engine writes it (each user's counter row updated and returned, the bodies and the entries
inserted from arrays, one commit), batch after batch on one connection, then the same from
several connections at once (as several processes would). It prints notifications appended per
second. ``--store`` also drives Grace's log itself (``PostgresNotificationLog``) with concurrent
callers, whose appends it groups into transactions.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import statistics
import time
import uuid
from collections.abc import Callable, Sequence
from importlib import metadata
from typing import Any

import orjson

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
USERS = 1000
DATA = orjson.dumps({"task_id": "deploy_123", "version": "2.1.0", "t": 0, "k": 0})
ACTIONS = orjson.dumps([{"id": "open", "label": "Open"}])


def make_batch(rng: random.Random, size: int) -> list[str]:
    """The recipients of ``size`` one-recipient notifications, random users."""
    return [f"u{rng.randrange(USERS)}" for _ in range(size)]


def arguments(users: list[str], starts: dict[str, int], body_ids: Sequence[int]) -> list[Any]:
    """The insert statement's arrays for one batch of one-recipient notifications."""
    now = time.time()
    next_seq = dict(starts)
    seqs = []
    for user in users:
        seqs.append(next_seq[user])
        next_seq[user] += 1
    n = len(users)
    return [
        list(body_ids),
        ["task_completed"] * n,
        ["Task Complete"] * n,
        ["Deployment completed successfully"] * n,
        ["✅"] * n,
        ["success"] * n,
        ["2026-11-30T12:00:00.000Z"] * n,
        [now] * n,
        [DATA] * n,
        [ACTIONS] * n,
        users,
        seqs,
        list(body_ids),
    ]


def counts(users: list[str]) -> tuple[list[str], list[int]]:
    tally: dict[str, int] = {}
    for user in users:
        tally[user] = tally.get(user, 0) + 1
    names = sorted(tally)
    return names, [tally[u] for u in names]


class Driver:
    """One driver's way to run the append transaction."""

    name = ""

    async def connect(self, url: str) -> None: ...

    async def close(self) -> None: ...

    async def append(self, users: list[str]) -> None: ...


class AsyncpgDriver(Driver):
    name = "asyncpg"

    async def connect(self, url: str) -> None:
        import asyncpg

        self.conn = await asyncpg.connect(url)

    async def close(self) -> None:
        await self.conn.close()

    async def append(self, users: list[str]) -> None:
        from grace_chat.store.backends import postgres_notifications as pg

        names, tally = counts(users)
        count = dict(zip(names, tally, strict=True))
        async with self.conn.transaction():
            rows = await self.conn.fetch(pg.RESERVE, names, tally)
            ids = [r[0] for r in await self.conn.fetch(pg.BODY_NUMBERS, len(users))]
            starts = {r[0]: r[1] - count[r[0]] + 1 for r in rows}
            await self.conn.execute(pg.INSERT, *arguments(users, starts, ids))


def psycopg_sql(sql: str) -> str:
    return re.sub(r"\$\d+", "%s", sql)


class PsycopgDriver(Driver):
    name = "psycopg"

    async def connect(self, url: str) -> None:
        import psycopg

        self.conn = await psycopg.AsyncConnection.connect(url, prepare_threshold=0)

    async def close(self) -> None:
        await self.conn.close()

    async def append(self, users: list[str]) -> None:
        from grace_chat.store.backends import postgres_notifications as pg

        names, tally = counts(users)
        count = dict(zip(names, tally, strict=True))
        async with self.conn.transaction():
            cur = await self.conn.execute(
                psycopg_sql(pg.RESERVE),
                (names, tally),
                binary=True,
            )
            rows = await cur.fetchall()
            cur = await self.conn.execute(
                psycopg_sql(pg.BODY_NUMBERS),
                (len(users),),
                binary=True,
            )
            ids = [r[0] for r in await cur.fetchall()]
            starts = {r[0]: r[1] - count[r[0]] + 1 for r in rows}
            await self.conn.execute(
                psycopg_sql(pg.INSERT),
                arguments(users, starts, ids),
                binary=True,
            )


DRIVERS: dict[str, Callable[[], Driver]] = {"asyncpg": AsyncpgDriver, "psycopg": PsycopgDriver}


async def admin(url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def with_database(url: str, name: str) -> str:
    head, _, tail = url.rpartition("/")
    query = tail.partition("?")[2]
    return f"{head}/{name}" + (f"?{query}" if query else "")


async def reset(url: str) -> None:
    """Every table dropped and made again: each cell starts from an empty log."""
    from grace_chat.store.backends.postgres_schema import drop_everything, migrate_url

    await admin(url, drop_everything())
    await migrate_url(url)


async def run_driver(
    make: Callable[[], Driver], url: str, batch: int, lanes: int, seconds: float
) -> tuple[float, float]:
    """Appends per second, and this process's CPU µs per append (the driver's and Python's
    share; the server's is not counted): ``lanes`` connections, each committing batches of
    ``batch``."""
    drivers = [make() for _ in range(lanes)]
    for d in drivers:
        await d.connect(url)
    appended = 0
    stop = time.monotonic() + seconds

    async def lane(d: Driver, seed: int) -> None:
        nonlocal appended
        rng = random.Random(seed)
        while time.monotonic() < stop:
            await d.append(make_batch(rng, batch))
            appended += batch

    start, cpu = time.monotonic(), time.process_time()
    try:
        await asyncio.gather(*(lane(d, i) for i, d in enumerate(drivers)))
        cpu = time.process_time() - cpu
    finally:
        for d in drivers:
            await d.close()
    return appended / (time.monotonic() - start), cpu * 1e6 / max(1, appended)


async def run_store(url: str, callers: int, seconds: float) -> tuple[float, float]:
    """Grace's log with ``callers`` concurrent ``append`` callers of one notification each:
    appends per second and the mean number of notifications per transaction."""
    from grace_chat.notifications.model import Draft, Severity
    from grace_chat.store.backends.postgres_notifications import PostgresNotificationLog

    store = PostgresNotificationLog(url)
    await store.open()
    batches: list[int] = []
    store.add_commit_listener(lambda committed: batches.append(len(committed)))
    appended = 0
    stop = time.monotonic() + seconds

    async def caller(seed: int) -> None:
        nonlocal appended
        rng = random.Random(seed)
        while time.monotonic() < stop:
            user = f"u{rng.randrange(USERS)}"
            draft = Draft(
                (user,), "task_completed", "Deployment completed successfully", "✅",
                Severity.SUCCESS, "Task Complete", data_json=DATA,
            )  # fmt: skip
            await store.append([draft])
            appended += 1

    start = time.monotonic()
    try:
        await asyncio.gather(*(caller(i) for i in range(callers)))
    finally:
        await store.close()
    return appended / (time.monotonic() - start), statistics.fmean(batches or [0])


async def main_async(args: argparse.Namespace) -> None:
    name = f"grace_bench_{uuid.uuid4().hex[:8]}"
    await admin(args.url, f'CREATE DATABASE "{name}"')
    url = with_database(args.url, name)
    versions = {p: metadata.version(p) for p in ("asyncpg", "psycopg", "psycopg-binary")}
    print("Drivers: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    try:
        print(
            f"\n{args.seconds:g} s per cell, medians of {args.runs} runs; {USERS} users, "
            "one recipient per notification"
        )
        print("| driver | batch | connections | appends/s | client CPU µs/append |")
        print("|---|---|---|---|---|")
        for batch, lanes in args.cells:
            for driver in args.drivers:
                rates, cpus = [], []
                for _ in range(args.runs):
                    await reset(url)
                    rate, cpu = await run_driver(DRIVERS[driver], url, batch, lanes, args.seconds)
                    rates.append(rate)
                    cpus.append(cpu)
                print(
                    f"| {driver} | {batch} | {lanes} | {statistics.median(rates):,.0f} "
                    f"| {statistics.median(cpus):.1f} |"
                )
        if args.store:
            print("\nGrace's log (PostgresNotificationLog), one process")
            print("| concurrent callers | appends/s | notifications per transaction |")
            print("|---|---|---|")
            for callers in args.store:
                await reset(url)
                rate, per_tx = await run_store(url, callers, args.seconds)
                print(f"| {callers} | {rate:,.0f} | {per_tx:.1f} |")
    finally:
        await admin(args.url, f'DROP DATABASE "{name}" WITH (FORCE)')


def cells(raw: str) -> list[tuple[int, int]]:
    out = []
    for part in raw.split(","):
        batch, _, lanes = part.partition("x")
        out.append((int(batch), int(lanes or 1)))
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.store_pg", description=__doc__)
    p.add_argument("--url", default=DEFAULT_URL, help="a PostgreSQL server (its admin database)")
    p.add_argument("--drivers", default="asyncpg,psycopg", type=lambda s: s.split(","))
    p.add_argument(
        "--cells",
        default="1,16,256,16x4",
        type=cells,
        help="batch sizes, each optionally xN connections (default 1,16,256,16x4)",
    )
    p.add_argument("--seconds", type=float, default=3.0, help="per cell and run")
    p.add_argument("--runs", type=int, default=3, help="runs per cell (the median is printed)")
    p.add_argument(
        "--store",
        default=[],
        type=lambda s: [int(x) for x in s.split(",") if x],
        help="also drive Grace's log with these numbers of concurrent callers, e.g. 1,64,512",
    )
    asyncio.run(main_async(p.parse_args(argv)))


if __name__ == "__main__":
    main()
