"""CPU per delivery and latency against the entries already in the log (burst and storm).

For each log size (``--sizes``, default 0, 1M, 10M, 50M entries) a pre-filled data directory
(``bench.prefill``, cached under ``--cache-dir``) is copied for each run, Grace opens it, and the
fan-out burst and the per-user storm of ``bench.runner`` run on it: the benchmark's users
(``u0`` ..) already have a history there. The seed-style server keeps no log: it runs once, and
its figure is the flat reference line. Each point is the median of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import runner
from bench.curves.common import line_chart, save, start_banner
from bench.prefill import DEFAULT_CACHE, Fill, cached_fill, copy_fill

NAME = "logsize"
#: Every server kind this curve compares (the seed-style server has no log: one flat line).
DEFAULT_SERVERS = "grace,seed"
SCENARIOS = ("burst", "storm")
FULL_SIZES = "0,1M,10M,50M"
QUICK_SIZES = "0,20k"


def parse_size(text: str) -> int:
    text = text.strip().lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if scale > 1 else text) * scale)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sizes", default=None, help=f"entries already in the log ({FULL_SIZES})")
    parser.add_argument("--servers", default=DEFAULT_SERVERS)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, seconds")
    parser.add_argument("--users", type=int, default=10_000, help="users the pre-fill spreads over")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--scale", type=float, default=0.5, help="burst/storm notification counts")
    parser.add_argument("--repeat", type=int, default=1, help="runs per point (median)")
    parser.add_argument("--workers", type=int, default=2)


def _sizes(args: argparse.Namespace) -> list[int]:
    return [
        parse_size(s)
        for s in (args.sizes or (QUICK_SIZES if args.quick else FULL_SIZES)).split(",")
    ]


def _run_one(
    kind: str, scenario: str, size: dict[str, Any], workers: int, fill: Path | None, tmp: Path
) -> runner.Result:
    data_dir = None
    if fill is not None:
        data_dir = copy_fill(fill, Path(tempfile.mkdtemp(prefix="bench-logsize-", dir=tmp)))
    fn = runner.fanout_burst if scenario == "burst" else runner.user_storm
    return fn(kind, size, workers, data_dir)


def run(args: argparse.Namespace) -> int:
    info = start_banner()
    preset = runner.scaled(
        runner.QUICK if args.quick else runner.FULL, 1.0 if args.quick else args.scale
    )
    users = 100 if args.quick else args.users
    kinds = [k.strip() for k in args.servers.split(",") if k.strip()]
    sizes = _sizes(args)
    tmp = Path(tempfile.mkdtemp(prefix="bench-logsize-"))
    points: list[dict[str, Any]] = []
    failed = False
    try:
        fills: dict[int, Path | None] = {}
        for n in sizes:
            started = time.perf_counter()
            fills[n] = cached_fill(args.cache_dir, Fill(n, users)) if n else None
            print(f"log of {n:,} entries ready in {time.perf_counter() - started:.1f}s", flush=True)
        for kind in kinds:
            for n in sizes if kind.startswith("grace") else [0]:
                for scenario in SCENARIOS:
                    runs = []
                    for _ in range(max(1, args.repeat)):
                        res = _run_one(
                            kind, scenario, preset[scenario], args.workers, fills[n], tmp
                        )
                        runs.append(res)
                        if not res.ok:
                            failed = True
                            print(
                                f"LOST OR DUPLICATED: {kind} {scenario} at {n:,}: lost {res.lost} "
                                f"dup {res.dups} unexpected {res.unexpected} seq errors "
                                f"{res.seq_errors} errors {res.errors}",
                                flush=True,
                            )
                    cpu = statistics.median(r.cpu_us_per_delivery for r in runs)
                    p99 = statistics.median(r.latency_ms.get("p99", 0.0) for r in runs)
                    point = {
                        "server": kind,
                        "scenario": scenario,
                        "entries": n,
                        "cpu_us_per_delivery": cpu,
                        "p99_ms": p99,
                        "runs": [r.as_dict() for r in runs],
                    }
                    points.append(point)
                    print(
                        f"  {kind:<6} {scenario:<5} log {n:>12,}: {cpu:6.2f} µs/delivery, "
                        f"p99 {p99:7.1f} ms  (runs: "
                        + ", ".join(f"{r.cpu_us_per_delivery:.2f}" for r in runs)
                        + ")",
                        flush=True,
                    )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    _table(points, sizes)
    save(NAME, info, points, sizes=sizes, fill_users=users, scale=args.scale, ok=not failed)
    _chart(points, sizes)
    if failed:
        print("LOGSIZE CURVE FAILED: a notification was lost or duplicated")
        return 1
    return 0


def _table(points: list[dict[str, Any]], sizes: list[int]) -> None:
    seed = {p["scenario"]: p for p in points if p["server"] == "seed"}
    for scenario in SCENARIOS:
        base = next(
            (
                p
                for p in points
                if p["server"] == "grace" and p["scenario"] == scenario and p["entries"] == 0
            ),
            None,
        )
        print(f"\n{scenario}:")
        print(
            "| entries in the log | Grace CPU µs/deliv | x empty log | Grace p99 ms | "
            "seed CPU µs/deliv | seed p99 ms |"
        )
        print("|---:|---:|---:|---:|---:|---:|")
        s = seed.get(scenario)
        for p in points:
            if p["server"] != "grace" or p["scenario"] != scenario:
                continue
            # a tiny run's CPU can be under the clock's 10 ms tick: no ratio to a zero
            empty = base["cpu_us_per_delivery"] if base else 0.0
            ratio = f"{p['cpu_us_per_delivery'] / empty:.2f}x" if empty else "-"
            print(
                f"| {p['entries']:,} | {p['cpu_us_per_delivery']:.2f} | {ratio} | "
                f"{p['p99_ms']:.1f} | {s['cpu_us_per_delivery'] if s else 0:.2f} | "
                f"{s['p99_ms'] if s else 0:.1f} |"
            )


def _chart(points: list[dict[str, Any]], sizes: list[int]) -> None:
    panels = []
    for metric, label in (("cpu_us_per_delivery", "CPU µs per delivery"), ("p99_ms", "p99 ms")):
        for scenario in SCENARIOS:
            series: dict[str, list[tuple[float, float]]] = {}
            for p in points:
                if p["scenario"] != scenario:
                    continue
                xs = sizes if p["server"] == "seed" else [p["entries"]]
                for x in xs:
                    series.setdefault(p["server"], []).append((float(x), float(p[metric])))
            panels.append((f"{scenario}: {label}", series))
    line_chart(
        NAME,
        "Burst and storm against the entries already in the log",
        "entries in the log",
        panels,
        logx=True,
    )
