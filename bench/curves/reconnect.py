"""A reconnect storm against the number of clients: all drop, miss ``--missed`` each, all return.

Each point is the ``reconnect`` scenario of ``bench.runner`` (``reconnect_storm``) on a fresh
server: ``N`` clients (one per user) get a few live notifications, all drop, ``--missed``
notifications are published to each while they are away, then all reconnect at once with their
last ``seq``. ``complete s`` is from the first reconnect until every client has every missed
notification; the load generator checks each arrived exactly once and in ``seq`` order. ``CPU
µs/replayed`` is the server's CPU over that window per replayed notification (the handshakes,
the log reads and the writes together).

Only servers with resume take part: the baselines keep no history, so a client that was away has
nothing to come back to; they are listed as such.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import psutil

from bench.curves import common, scale
from bench.report import NAMES
from bench.runner import RESUMABLE, reconnect_storm

#: The servers compared, Grace first (those without resume are listed, not run).
DEFAULT_SERVERS = ["grace", "seed", "socketio", "node-socketio", "node-ws"]
LEVELS = [1000, 5000, 10_000]
QUICK_LEVELS = [20, 60]
#: The issue's target for 10,000 clients x 100 missed.
TARGET_S = 10.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--servers", default=",".join(DEFAULT_SERVERS))
    parser.add_argument("--levels", default=",".join(map(str, LEVELS)), help="clients")
    parser.add_argument("--missed", type=int, default=100, help="notifications missed each")
    parser.add_argument("--workers", type=int, default=2, help="load-generator processes (least)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, seconds")
    parser.add_argument("--out", type=Path, default=None, help="JSON and chart here instead")


def measure(kind: str, clients: int, missed: int, workers: int) -> dict[str, Any]:
    size = {"clients": clients, "count": missed, "warm": 5, "timeout": 300}
    res = reconnect_storm(kind, size, scale.workers_for(clients, workers))
    return {
        "server": kind,
        "x": clients,
        "reached": True,
        "clients": clients,
        "missed": missed,
        "replayed": res.deliveries,
        "complete_s": res.seconds,
        "cpu_us_per_replayed": res.cpu_us_per_delivery,
        "load_avg": [round(x, 2) for x in psutil.getloadavg()],
        **res.as_dict(),
    }


def print_table(points: list[dict[str, Any]], skipped: list[str]) -> None:
    rows = [
        [
            *("clients", "server", "missed each", "replayed", "complete s", "replayed/s"),
            *("CPU µs/replayed", "lost", "dup", "out of order"),
        ]
    ]
    for p in sorted(points, key=lambda p: p["x"]):
        rows.append(
            [
                *(f"{p['x']:,}", NAMES.get(p["server"], p["server"]), str(p["missed"])),
                *(f"{p['replayed']:,}", scale.fmt(p["complete_s"], 2)),
                *(scale.fmt(p["deliveries_per_s"]), scale.fmt(p["cpu_us_per_replayed"])),
                *(str(p["lost"]), str(p["dups"]), str(p["seq_errors"])),
            ]
        )
    for kind in skipped:
        rows.append(["all", NAMES.get(kind, kind), "n/a: no resume", *["-"] * 7])
    print(scale.table(rows), flush=True)


def chart(points: list[dict[str, Any]]) -> Path:
    def series(key: str) -> dict[str, list[tuple[float, float]]]:
        out: dict[str, list[tuple[float, float]]] = {}
        for p in points:
            out.setdefault(p["server"], []).append((p["x"], p[key]))
        return out

    return common.line_chart(
        "reconnect",
        "Reconnect storm: every client away for the same missed notifications, back at once",
        "clients reconnecting at once",
        [
            ("time until every client is complete, s", series("complete_s")),
            ("server CPU per replayed notification, µs", series("cpu_us_per_replayed")),
        ],
    )


def run(args: argparse.Namespace) -> int:
    if args.out is not None:
        scale.redirect_output(args.out)
    kinds = [k for k in args.servers.split(",") if k]
    levels = sorted({int(x) for x in args.levels.split(",")})
    missed = args.missed
    if args.quick:
        levels, missed = QUICK_LEVELS, 10
    info = common.start_banner()
    print(
        f"Reconnect storm: {', '.join(f'{n:,}' for n in levels)} clients (one per user), "
        f"{missed} notifications missed each, all back at once with their last seq; a fresh "
        "server per point.",
        flush=True,
    )
    points: list[dict[str, Any]] = []
    skipped = [k for k in kinds if k not in RESUMABLE]
    for kind in kinds:
        if kind in skipped:
            continue
        for clients in levels:
            print(f"  {kind} {clients:,} clients ...", flush=True)
            points.append(measure(kind, clients, missed, args.workers))
    print()
    print_table(points, skipped)
    path = common.save("reconnect", info, points, missed=missed, no_resume=skipped)
    print(f"\nJSON: {path}\nchart: {chart(points)}")
    print(f"load average at the end: {[round(x, 2) for x in psutil.getloadavg()]}")
    failed = [p for p in points if not p["ok"]]
    if failed:
        for p in failed:
            print(
                f"CURVE FAILED: {p['server']} at {p['x']:,} clients: lost {p['lost']}, "
                f"duplicated {p['dups']}, out of sequence {p['seq_errors']}, unexpected "
                f"{p['unexpected']}, errors {p['errors']}"
            )
        return 1
    for p in points:
        if p["x"] >= 10_000 and p["missed"] >= 100:
            met = "met" if p["complete_s"] <= TARGET_S else "NOT met"
            print(
                f"target: {p['x']:,} x {p['missed']} missed complete within {TARGET_S:g} s: "
                f"{p['complete_s']:.2f} s, {met}"
            )
    print("every missed notification replayed exactly once, in order")
    return 0
