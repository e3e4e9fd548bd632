"""Start-up time and memory against the entries already in the log.

For each log size (``--sizes``, default 0, 1M, 10M, 50M) a copy of the pre-filled data directory
(``bench.prefill``) is opened by a fresh Grace process; the clock runs from the process start to
the moment a client that connected at once has resumed (welcome, its 10 missed notifications,
``synced``). Also taken: the time until the process listens (imports and the socket), and its
RSS once it served that client. Each size starts ``--repeat`` times on the same copy (median).
The database file is in the operating system's page cache (it was just copied), as it is when
a server restarts on the same machine.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from bench.curves.common import line_chart, save, start_banner
from bench.curves.logsize import FULL_SIZES, parse_size
from bench.prefill import DB_NAME, DEFAULT_CACHE, Fill, cached_fill, copy_fill
from bench.resume import resume
from bench.runner import REPO

NAME = "startup"
#: Start-up is Grace's own: the baselines keep no log to open.
DEFAULT_SERVERS = "grace"
QUICK_SIZES = "0,20k"
MISSED = 10
TARGET_S = 2.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sizes", default=None, help=f"entries already in the log ({FULL_SIZES})")
    parser.add_argument("--servers", default=DEFAULT_SERVERS)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, seconds")
    parser.add_argument("--users", type=int, default=10_000, help="users the pre-fill spreads over")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--repeat", type=int, default=3, help="starts per size (median)")


def start_once(data_dir: Path, user: str, since: int) -> dict[str, Any]:
    """Start Grace on ``data_dir``; time until it listens and until ``user`` resumed from
    ``since``; its RSS then. Stops it again."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.grace_server", "--data-dir", str(data_dir)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=open(data_dir / "server.log", "a"),  # noqa: SIM115 - closed with the process
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("LISTEN "):
            raise RuntimeError(f"the server did not start: {(data_dir / 'server.log').read_text()}")
        listening = time.perf_counter() - started
        got = asyncio.run(resume(int(line.split()[1]), user, since, timeout=120))
        served = time.perf_counter() - started
        rss = psutil.Process(proc.pid).memory_info().rss
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        if proc.stdout is not None:
            proc.stdout.close()
    return {
        "listening_s": listening,
        "served_s": served,
        "rss_mib": rss / 2**20,
        "replayed": got.replayed,
        "ok": got.ok,
        "errors": got.errors[:5],
    }


def run(args: argparse.Namespace) -> int:
    info = start_banner()
    if "grace" not in [k.strip() for k in args.servers.split(",")]:
        print("startup: only Grace keeps a log to start on; nothing to measure")
        return 0
    sizes = [
        parse_size(s)
        for s in (args.sizes or (QUICK_SIZES if args.quick else FULL_SIZES)).split(",")
    ]
    users = 100 if args.quick else args.users
    repeat = 1 if args.quick else max(1, args.repeat)
    tmp = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    points: list[dict[str, Any]] = []
    failed = False
    try:
        for n in sizes:
            data_dir = Path(tempfile.mkdtemp(dir=tmp))
            user, since = "u0", 0
            if n:
                copy_fill(cached_fill(args.cache_dir, Fill(n, users)), data_dir)
                with sqlite3.connect(data_dir / DB_NAME) as conn:
                    head = conn.execute(
                        "SELECT last_seq FROM user_log WHERE user_id = ?", (user,)
                    ).fetchone()[0]
                since = max(0, head - MISSED)
            runs = [start_once(data_dir, user, since) for _ in range(repeat)]
            shutil.rmtree(data_dir, ignore_errors=True)
            bad = [r for r in runs if not r["ok"]]
            failed = failed or bool(bad)
            point = {
                "server": "grace",
                "entries": n,
                "served_s": statistics.median(r["served_s"] for r in runs),
                "listening_s": statistics.median(r["listening_s"] for r in runs),
                "rss_mib": statistics.median(r["rss_mib"] for r in runs),
                "runs": runs,
            }
            points.append(point)
            print(
                f"  log {n:>12,}: serving a resume {point['served_s']:.2f}s after the process "
                f"started (listening at {point['listening_s']:.2f}s), "
                f"RSS {point['rss_mib']:.0f} MiB"
                + (f"  FAILED: {bad[0]['errors']}" if bad else ""),
                flush=True,
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("\n| entries in the log | start → resume served s | start → listening s | RSS MiB |")
    print("|---:|---:|---:|---:|")
    for p in points:
        print(
            f"| {p['entries']:,} | {p['served_s']:.2f} | {p['listening_s']:.2f} | "
            f"{p['rss_mib']:.0f} |"
        )
    biggest = max(points, key=lambda p: p["entries"])
    verdict = "met" if biggest["served_s"] < TARGET_S else "NOT met"
    print(f"target: under {TARGET_S:.0f} s at {biggest['entries']:,} entries: {verdict}")
    save(NAME, info, points, sizes=sizes, fill_users=users, ok=not failed)
    line_chart(
        NAME,
        "Start-up against the entries already in the log",
        "entries in the log",
        [
            (
                "seconds from process start",
                {
                    "grace resume served": [(float(p["entries"]), p["served_s"]) for p in points],
                    "grace listening": [(float(p["entries"]), p["listening_s"]) for p in points],
                },
            ),
            (
                "RSS MiB after serving",
                {"grace": [(float(p["entries"]), p["rss_mib"]) for p in points]},
            ),
        ],
        logx=True,
    )
    if failed:
        print("STARTUP CURVE FAILED: a resume was not served exactly")
        return 1
    return 0
