"""The cost of resuming against the number of missed notifications (history depth).

A pre-filled log (``bench.prefill``) gives each of ``--users`` users the same history of
``max(--depths)`` notifications (plus a margin), each body going to all of them. One Grace
server opens a copy of it (its retention count raised above that history), then for each depth
``D`` (``--depths``, default 10, 1,000, 100,000) and each number of clients ``C``
(``--clients``, default 1 and 10) ``C`` clients (users ``u0`` ..) resume at once with
``since = head - D``: the time until the last one has ``synced`` with exactly its ``D``
missed notifications, and the server's CPU per replayed notification. The replay is read-only,
so every point runs on the same server; each is the median of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import tempfile
from pathlib import Path
from typing import Any

from bench import runner
from bench.curves.common import line_chart, save, start_banner
from bench.prefill import DEFAULT_CACHE, Fill, cached_fill, copy_fill
from bench.resume import resume_many

NAME = "replay"
#: Resume is Grace's own: the baselines keep no log to replay from.
DEFAULT_SERVERS = "grace"
MARGIN = 10


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--depths", default=None, help="missed notifications (10,1000,100000)")
    parser.add_argument("--clients", default="1,10", help="clients resuming at once")
    parser.add_argument("--servers", default=DEFAULT_SERVERS)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, seconds")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--repeat", type=int, default=3, help="runs per point (median)")


def run(args: argparse.Namespace) -> int:
    info = start_banner()
    if "grace" not in [k.strip() for k in args.servers.split(",")]:
        print("replay: only Grace keeps a log to resume from; nothing to measure")
        return 0
    depths = _ints(args.depths or ("10,100,1000" if args.quick else "10,1000,100000"))
    clients = _ints(args.clients)
    repeat = 1 if args.quick else max(1, args.repeat)
    users = max(clients)
    history = max(depths) + MARGIN
    fill = Fill(entries=history * users, users=users, per_body=users, unread=0)
    source = cached_fill(args.cache_dir, fill, retention=history)
    tmp = Path(tempfile.mkdtemp(prefix="bench-replay-"))
    points: list[dict[str, Any]] = []
    failed = False
    server = runner.Server(
        "grace",
        ["--retention-count", str(history)],
        data_dir=copy_fill(source, tmp / "data"),
    )
    try:
        for c in clients:
            for d in depths:
                runs = []
                for _ in range(repeat):
                    wants = [(f"u{i}", history - d) for i in range(c)]
                    before = server.cpu()
                    got, seconds = asyncio.run(resume_many(server.port, wants))
                    cpu = server.cpu() - before
                    ok = all(r.ok and r.replayed == d for r in got)
                    if not ok:
                        failed = True
                        bad = next(r for r in got if not (r.ok and r.replayed == d))
                        print(
                            f"REPLAY WRONG: {bad.user} since {bad.since}: {bad.replayed} "
                            f"replayed, head {bad.head}, {bad.errors[:3]}",
                            flush=True,
                        )
                    runs.append(
                        {
                            "seconds": seconds,
                            "cpu_s": cpu,
                            "cpu_us_per_replayed": cpu * 1e6 / (c * d),
                            "ok": ok,
                        }
                    )
                point = {
                    "server": "grace",
                    "clients": c,
                    "depth": d,
                    "seconds": statistics.median(r["seconds"] for r in runs),
                    "cpu_us_per_replayed": statistics.median(
                        r["cpu_us_per_replayed"] for r in runs
                    ),
                    "runs": runs,
                }
                points.append(point)
                print(
                    f"  {c:>3} client(s) x {d:>7,} missed: all synced in "
                    f"{point['seconds'] * 1000:9.1f} ms, {point['cpu_us_per_replayed']:7.2f} "
                    "µs server CPU per replayed notification",
                    flush=True,
                )
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print("\n| clients at once | missed each | time to synced ms | CPU µs per replayed |")
    print("|---:|---:|---:|---:|")
    for p in points:
        print(
            f"| {p['clients']} | {p['depth']:,} | {p['seconds'] * 1000:.1f} | "
            f"{p['cpu_us_per_replayed']:.2f} |"
        )
    save(NAME, info, points, history=history, ok=not failed)
    line_chart(
        NAME,
        "Resuming against the number of missed notifications",
        "missed notifications per client",
        [
            (
                "time until every client synced, ms",
                {
                    f"grace {c} client(s)": [
                        (float(p["depth"]), p["seconds"] * 1000)
                        for p in points
                        if p["clients"] == c
                    ]
                    for c in clients
                },
            ),
            (
                "server CPU µs per replayed notification",
                {
                    f"grace {c} client(s)": [
                        (float(p["depth"]), p["cpu_us_per_replayed"])
                        for p in points
                        if p["clients"] == c
                    ]
                    for c in clients
                },
            ),
        ],
        logx=True,
        logy=True,
    )
    if failed:
        print("REPLAY CURVE FAILED: a resume was not replayed exactly once")
        return 1
    return 0
