"""Memory per connection and latency against the idle connections one server process holds.

Each point is a fresh server: its RSS before any connection, then ``N`` idle connections (two per
user, as the ``idle`` scenario), its RSS again, then a steady ``--rate`` notifications/s for
``--duration`` seconds to random users of those (a random subset of the connections gets them),
with the latency percentiles, the server's CPU per delivery and the check that every
notification arrived exactly once. ``KiB/conn`` is ``(RSS - RSS before) / N``.

Points above what the open-files limit lets one server process hold are printed as
``not reached: open-files limit N`` (see ``bench.curves.scale``).
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
from bench.runner import Result, collect, cpu_delta, machine_busy_pct, session

#: The servers compared, Grace first.
DEFAULT_SERVERS = ["grace", "seed", "socketio", "node-socketio", "node-ws"]
LEVELS = [1000, 10_000, 19_500, 50_000]
QUICK_LEVELS = [20, 60]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--servers", default=",".join(DEFAULT_SERVERS))
    parser.add_argument(
        "--levels", default=",".join(map(str, LEVELS)), help="idle connections at each point"
    )
    parser.add_argument("--rate", type=float, default=2000.0, help="notifications per second")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of steady load")
    parser.add_argument("--workers", type=int, default=2, help="load-generator processes (least)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, seconds")
    parser.add_argument("--out", type=Path, default=None, help="JSON and chart here instead")


def measure(
    kind: str, level: int, rate: float, duration: float, workers: int, seed: int
) -> tuple[dict[str, Any], int]:
    """One point: ``level`` idle connections on a fresh ``kind`` server, then the steady load.
    Returns the point and the server's open-files limit."""
    users = max(1, level // 2)
    count = max(1, int(rate * duration))
    res = Result("connections", kind, level, users, notifications=count)
    with session(kind, scale.workers_for(level, workers)) as (server, pool):
        limit = scale.open_files_limit(server.proc.pid)  # type: ignore[union-attr]
        if level > scale.capacity(limit):
            return scale.unreached_point(kind, level, limit, connections=level), limit
        base = server.rss()
        connect_s = server.connect(pool, [(c, user_name(c // 2)) for c in range(level)], 900)
        rss = server.rss()
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
    collect(res, answers, t0)
    point = {
        "server": kind,
        "x": level,
        "reached": True,
        "connections": level,
        "users": users,
        "open_files_limit": limit,
        "rss_base_mib": base / 2**20,
        "rss_mib": rss / 2**20,
        "kib_per_connection": (rss - base) / level / 1024,
        "connect_s": connect_s,
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
            *("connections", "server", "RSS MiB", "KiB/conn", "deliveries", "CPU µs/deliv"),
            *("p50 ms", "p99 ms", "p99.9 ms", "max ms", "lost", "dup", "machine busy %"),
        ]
    ]
    for p in sorted(points, key=lambda p: (p["x"], DEFAULT_SERVERS.index(p["server"]))):
        name = NAMES.get(p["server"], p["server"])
        if not p["reached"]:
            rows.append([f"{p['x']:,}", name, p["why"], *["-"] * 10])
            continue
        lat = p["latency_ms"]
        rows.append(
            [
                *(f"{p['x']:,}", name, scale.fmt(p["rss_mib"]), scale.fmt(p["kib_per_connection"])),
                *(f"{p['deliveries']:,}", scale.fmt(p["cpu_us_per_delivery"])),
                *(scale.fmt(lat.get("p50")), scale.fmt(lat.get("p99"))),
                *(scale.fmt(lat.get("p99.9")), scale.fmt(lat.get("max"))),
                *(str(p["lost"]), str(p["dups"] + p["seq_errors"])),
                scale.fmt(p["machine_busy_pct"]),
            ]
        )
    print(scale.table(rows), flush=True)


def chart(points: list[dict[str, Any]]) -> Path:
    reached = [p for p in points if p["reached"]]

    def series(key: str) -> dict[str, list[tuple[float, float]]]:
        return scale.series(reached, key)

    return common.line_chart(
        "connections",
        "Idle connections held, and a steady load to some of them",
        "idle connections",
        [
            ("server RSS per connection, KiB", series("kib_per_connection")),
            ("delivery p99, ms", series("p99")),
            ("server CPU per delivery, µs", series("cpu_us_per_delivery")),
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
        f"Idle connections (two per user) at {', '.join(f'{n:,}' for n in levels)}; then "
        f"{rate:,.0f} notifications/s to random users for {duration:g} s; a fresh server per "
        f"point; this process's open-files limit {scale.open_files_limit():,}.",
        flush=True,
    )
    points: list[dict[str, Any]] = []
    for kind in kinds:
        limit = 0
        for i, level in enumerate(levels):
            if limit and level > scale.capacity(limit):
                points.append(scale.unreached_point(kind, level, limit, connections=level))
                print(f"  {kind} {level:,}: {scale.not_reached(limit)}", flush=True)
                continue
            print(f"  {kind} {level:,} ...", flush=True)
            point, limit = measure(kind, level, rate, duration, args.workers, seed=100 + i)
            points.append(point)
            if not point["reached"]:
                print(f"  {kind} {level:,}: {point['why']}", flush=True)
    print()
    print_table(points)
    failed = [p for p in points if p["reached"] and not p["ok"]]
    path = common.save("connections", info, points, rate=rate, duration_s=duration)
    print(f"\nJSON: {path}\nchart: {chart(points)}")
    print(f"load average at the end: {[round(x, 2) for x in psutil.getloadavg()]}")
    if failed:
        for p in failed:
            print(
                f"CURVE FAILED: {p['server']} at {p['x']:,} connections: lost {p['lost']}, "
                f"duplicated {p['dups']}, out of sequence {p['seq_errors']}, unexpected "
                f"{p['unexpected']}, errors {p['errors']}"
            )
        return 1
    print("every notification delivered exactly once")
    return 0
