"""Cost against the number of distinct users (per-user state, per-user ``seq`` lookups).

Each point is a fresh server and ``U`` distinct users, one connection each as far as the
open-files limit lets one server process hold (see ``bench.curves.scale``); the users past that
have no connection, and still receive into their log (Grace stores for every user, connected or
not: that per-user state is what this curve is about). Every user first gets one notification
(one broadcast to all ``U``), so each has a log and a ``seq`` before the measured load; then
``--rate`` notifications/s go to random users of all ``U`` for ``--duration`` seconds.
``CPU µs/notif`` is the server's CPU over that window divided by the notifications published
(to connected users or not); the latency percentiles and the exactly-once check are over the
connected users' deliveries. ``RSS MiB`` is the server's at the end.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import psutil

from bench.common import user_name
from bench.curves import common, scale
from bench.report import NAMES
from bench.runner import BenchError, Result, collect, cpu_delta, machine_busy_pct, session

#: The servers compared, Grace first.
DEFAULT_SERVERS = ["grace", "seed", "socketio", "node-socketio", "node-ws"]
LEVELS = [1000, 10_000, 19_500, 50_000, 100_000]
QUICK_LEVELS = [20, 60]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--servers", default=",".join(DEFAULT_SERVERS))
    parser.add_argument("--levels", default=",".join(map(str, LEVELS)), help="distinct users")
    parser.add_argument("--rate", type=float, default=2000.0, help="notifications per second")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of steady load")
    parser.add_argument("--workers", type=int, default=2, help="load-generator processes (least)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, seconds")
    parser.add_argument("--out", type=Path, default=None, help="JSON and chart here instead")


def measure(
    kind: str, users: int, connected: int, rate: float, duration: float, workers: int, seed: int
) -> tuple[dict[str, Any], int]:
    """One point: ``users`` users, the first ``connected`` of them with one connection each."""
    count = max(1, int(rate * duration))
    res = Result("users", kind, connected, users, notifications=count)
    with session(kind, scale.workers_for(connected, workers)) as (server, pool):
        limit = scale.open_files_limit(server.proc.pid)  # type: ignore[union-attr]
        connected = min(connected, scale.capacity(limit))
        res.connections = connected
        server.connect(pool, [(c, user_name(c)) for c in range(connected)], 900)
        # Every user gets a log and a seq: one notification (k = 0) to all of them.
        pool.all(("arm", {"mode": "range", "lo": 0, "hi": 1}), 120)
        started = time.perf_counter()
        server.publish({"scenario": "reconnect", "users": users, "count": 1, "wait": True})
        fill_s = time.perf_counter() - started
        warmed = pool.all(("wait", 300), 360)
        if any(a["lost"] or a["dups"] or a["seq_errors"] for a in warmed):
            raise BenchError(f"{kind}: the first notification to every user was lost or doubled")
        pool.all(("arm", {"mode": "targets", "seed": seed, "count": count, "users": users}), 120)
        before = server.sample()
        machine0 = psutil.cpu_times()
        t0 = time.time_ns()
        server.publish(
            {"scenario": "steady", "users": users, "count": count, "seed": seed, "rate": rate}
        )
        answers = pool.all(("wait", duration + 120), duration + 180)
        res.cpu_s = cpu_delta(before, server.sample())[0]
        busy = machine_busy_pct(machine0, psutil.cpu_times())
        rss = server.rss()
    collect(res, answers, t0)
    point = {
        "server": kind,
        "x": users,
        "reached": True,
        "users": users,
        "connected": connected,
        "open_files_limit": limit,
        "rss_mib": rss / 2**20,
        "first_to_all_s": fill_s,
        "cpu_us_per_notification": res.cpu_s * 1e6 / count,
        "rate": rate,
        "duration_s": duration,
        "machine_busy_pct": busy,
        "load_avg": [round(x, 2) for x in psutil.getloadavg()],
        **res.as_dict(),
    }
    return point, limit


def print_table(points: list[dict[str, Any]]) -> None:
    rows = [
        [
            *("users", "server", "connected", "notifications", "CPU µs/notif", "deliveries"),
            *("p50 ms", "p99 ms", "p99.9 ms", "max ms", "lost", "dup", "RSS MiB"),
            "first to all, s",
        ]
    ]
    for p in sorted(points, key=lambda p: (p["x"], DEFAULT_SERVERS.index(p["server"]))):
        lat = p["latency_ms"]
        rows.append(
            [
                *(f"{p['x']:,}", NAMES.get(p["server"], p["server"]), f"{p['connected']:,}"),
                *(f"{p['notifications']:,}", scale.fmt(p["cpu_us_per_notification"])),
                *(f"{p['deliveries']:,}", scale.fmt(lat.get("p50")), scale.fmt(lat.get("p99"))),
                *(scale.fmt(lat.get("p99.9")), scale.fmt(lat.get("max"))),
                *(str(p["lost"]), str(p["dups"] + p["seq_errors"]), scale.fmt(p["rss_mib"])),
                scale.fmt(p["first_to_all_s"], 2),
            ]
        )
    print(scale.table(rows), flush=True)


def chart(points: list[dict[str, Any]]) -> Path:
    def series(key: str) -> dict[str, list[tuple[float, float]]]:
        return scale.series(points, key)

    return common.line_chart(
        "users",
        "Distinct users (one connection each as far as the open-files limit allows)",
        "distinct users",
        [
            ("server CPU per notification, µs", series("cpu_us_per_notification")),
            ("delivery p99 (connected users), ms", series("p99")),
            ("server RSS, MiB", series("rss_mib")),
        ],
        logx=True,
    )


def run(args: argparse.Namespace) -> int:
    if args.out is not None:
        scale.redirect_output(args.out)
    kinds = [k for k in args.servers.split(",") if k]
    levels = sorted({int(x) for x in args.levels.split(",")})
    rate, duration = args.rate, args.duration
    if args.quick:
        levels, rate, duration = QUICK_LEVELS, 200.0, 1.0
    info = common.start_banner()
    print(
        f"Distinct users at {', '.join(f'{n:,}' for n in levels)}, one connection each up to "
        f"the open-files limit; one notification to every user, then {rate:,.0f} "
        f"notifications/s to random users of all of them for {duration:g} s; a fresh server "
        "per point.",
        flush=True,
    )
    points: list[dict[str, Any]] = []
    for kind in kinds:
        for i, users in enumerate(levels):
            print(f"  {kind} {users:,} users ...", flush=True)
            point, limit = measure(kind, users, users, rate, duration, args.workers, seed=200 + i)
            if point["connected"] < users:
                print(
                    f"  {kind} {users:,} users: {point['connected']:,} of them connected; one "
                    f"connection each for all {users:,} {scale.not_reached(limit)}",
                    flush=True,
                )
                point["why"] = scale.not_reached(limit)
            points.append(point)
    print()
    print_table(points)
    for p in points:
        if p["connected"] < p["users"]:
            print(
                f"{NAMES.get(p['server'], p['server'])} at {p['users']:,} users: one connection "
                f"per user {p['why']}; {p['connected']:,} connected, the rest receive into their "
                "log only"
            )
    failed = [p for p in points if not p["ok"]]
    path = common.save("users", info, points, rate=rate, duration_s=duration)
    print(f"\nJSON: {path}\nchart: {chart(points)}")
    print(f"load average at the end: {[round(x, 2) for x in psutil.getloadavg()]}")
    if failed:
        for p in failed:
            print(
                f"CURVE FAILED: {p['server']} at {p['x']:,} users: lost {p['lost']}, duplicated "
                f"{p['dups']}, out of sequence {p['seq_errors']}, unexpected {p['unexpected']}, "
                f"errors {p['errors']}"
            )
        return 1
    print("every notification to a connected user delivered exactly once")
    return 0
