"""Against time: a steady rate for many minutes, RSS and latency percentiles minute by minute.

Each server runs fresh (``bench.runner.session``) with ``--connections`` connections over
``--users`` users. The load is the steady scenario's: ``--rate`` notifications a second to random
users, published inside the server by one task per notification. It runs as one plan per
interval (``--interval`` seconds, a minute by default), back to back: the load generator is armed
with the interval's notifications, the server publishes them, and once the last client has all of
them the interval's figures are taken (the server's RSS and CPU, the latency percentiles of what
the load generator received in that interval; Grace: the size of the SQLite log's files). The
next interval starts right after, so the load pauses only for the hand-over (a few ms to a few
hundred ms a minute). Any notification lost, duplicated or (Grace) out of sequence fails the run.

Beside each interval: what the machine did meanwhile (``bench.machine_watch``: a canary
process's wake-up lag, steal and iowait, pressure stalls, the disk's writes and flushes), so a
slow minute can be told the server's or the machine's; and for Grace its stalls
(``bench.stalls``: loop lag, GC, checkpoints, the writer thread's CPU and wall time per write).
``--pause S`` stops the server's process for S seconds in the middle of every interval but the
first, as a hypervisor that takes the CPU away does: the backlog, its memory, the recovery.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from bench.curves import common
from bench.machine_watch import MachineWatch, describe
from bench.runner import (
    AnyServer,
    BenchError,
    Server,
    Workers,
    cpu_delta,
    layout,
    percentiles,
    session,
)

#: Grace and every baseline this curve applies to (one list; the Node kinds join it when merged).
DEFAULT_SERVERS = ["grace", "seed"]
LABELS = {"grace": "Grace", "seed": "seed-style", "socketio": "python-socketio"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--servers", default=",".join(DEFAULT_SERVERS), help="comma-separated kinds")
    p.add_argument("--minutes", type=float, default=30.0, help="how long each server runs")
    p.add_argument("--rate", type=float, default=2000.0, help="notifications a second")
    p.add_argument("--connections", type=int, default=1000)
    p.add_argument("--users", type=int, default=500)
    p.add_argument("--interval", type=float, default=60.0, help="seconds per sample")
    p.add_argument("--workers", type=int, default=2, help="load-generator processes")
    p.add_argument(
        "--pause",
        type=float,
        default=0.0,
        help="stop the server's process (SIGSTOP) for this many seconds in the middle of every "
        "interval but the first: a stall of the machine on demand, to see the backlog, the "
        "memory it takes and the recovery",
    )
    p.add_argument(
        "--merge",
        action="store_true",
        help="keep the series of servers not in this run from the saved JSON (a baseline run "
        "of another length, say)",
    )
    p.add_argument("--out", type=Path, default=None, help="directory for the JSON and PNG")
    p.add_argument("--quick", action="store_true", help="1 minute at 100/s, 20 connections")


def _log_bytes(server: AnyServer) -> dict[str, int]:
    """Grace: the SQLite notification log's files (database, WAL, shared memory) in bytes."""
    if not isinstance(server, Server) or not server.kind.startswith("grace"):
        return {}
    sizes: dict[str, int] = {}
    for path in server.data_dir.rglob("*"):
        if path.suffix in (".db", ".db-wal", ".db-shm", ".sqlite", ".sqlite-wal") or (
            path.name.endswith(("-wal", "-shm"))
        ):
            with contextlib.suppress(OSError):
                sizes[path.name] = path.stat().st_size
    return sizes


def _grace_environment() -> dict[str, str]:
    """The ``GRACE_`` settings the servers inherit (``GRACE_SQLITE_SYNCHRONOUS``, say), for the
    record; secrets, keys and URLs (which may hold a password) only by name."""
    hidden = ("SECRET", "TOKEN", "PASSWORD", "KEY", "URL")
    return {
        k: ("(set)" if any(h in k for h in hidden) else v)
        for k, v in sorted(os.environ.items())
        if k.startswith("GRACE_")
    }


def _commit_buckets(server: AnyServer) -> dict[str, float]:
    """Grace: the store's cumulative commit-time histogram (``le`` → commits), from /metrics."""
    if not isinstance(server, Server) or not server.kind.startswith("grace"):
        return {}
    out: dict[str, float] = {}
    with contextlib.suppress(Exception):
        for line in server.http.get("/metrics").text.splitlines():
            if line.startswith("grace_store_commit_seconds_bucket"):
                le = line.split('le="', 1)[1].split('"', 1)[0]
                out[le] = float(line.rsplit(" ", 1)[1])
    return out


def _stalls(server: AnyServer) -> dict[str, Any]:
    """Grace: GC pauses, event-loop lag and WAL checkpoints since the last call (bench.stalls)."""
    if not isinstance(server, Server) or not server.kind.startswith("grace"):
        return {}
    r = server.http.get("/bench/stalls")
    if r.status_code != 200:
        raise BenchError(f"{server.kind}: /bench/stalls answered {r.status_code}: {r.text[:200]}")
    body: dict[str, Any] = r.json()
    return body


def _slow_commits(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """Commits in the interval, and how many took longer than each bucket bound from 10 ms."""
    if not after:
        return {}
    total = after.get("+Inf", 0.0) - before.get("+Inf", 0.0)
    out = {"commits": total}
    for le, n in after.items():
        if le != "+Inf" and float(le) >= 0.01:
            out[f"over_{float(le) * 1000:g}ms"] = total - (n - before.get(le, 0.0))
    return out


def soak(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    per = max(1, int(args.rate * args.interval))
    intervals = max(1, round(args.minutes * 60 / args.interval))
    rows: list[dict[str, Any]] = []
    failures: list[str] = []
    with session(kind, args.workers) as (server, pool), MachineWatch() as machine:
        server.connect(pool, layout(args.connections, args.users), 300)
        rss0 = server.rss()
        _stalls(server)  # starts its ticker
        buckets = _commit_buckets(server)
        started = time.monotonic()
        machine.take()
        for i in range(intervals):
            seed = 1000 + i
            expect = {"mode": "targets", "seed": seed, "count": per, "users": args.users}
            pool.all(("arm", expect), 120)
            spec = {
                "scenario": "steady",
                "users": args.users,
                "count": per,
                "seed": seed,
                "rate": args.rate,
            }
            idle(server)
            before = server.sample()
            t0 = time.time_ns()
            server.publish(spec)
            stall = None
            if i and args.pause:
                stall = _pause_later(server, args.interval / 2, args.pause)
            answers = waited(pool, args.interval)
            if stall is not None:
                stall.join()
            cpu_s = cpu_delta(before, server.sample())[0]
            lat: list[int] = []
            got = lost = dups = bad = 0
            done = 0
            for a in answers:
                lat.extend(a["latencies_ns"])
                got += a["unique"]
                lost += a["lost"]
                dups += a["dups"]
                bad += a["unexpected"] + a["seq_errors"] + a["errors"]
                done = max(done, a["done_ns"])
            if lost or dups or bad:
                failures.append(f"{kind} interval {i + 1}: lost {lost}, dup {dups}, other {bad}")
            row = {
                "minute": round((time.monotonic() - started) / 60, 3),
                "interval": i + 1,
                "deliveries": got,
                "seconds": (done - t0) / 1e9 if done else 0.0,
                "rss_mib": server.rss() / 2**20,
                "cpu_us_per_delivery": cpu_s * 1e6 / got if got else 0.0,
                "latency_ms": percentiles(lat),
                "lost": lost,
                "dups": dups,
                "errors": bad,
                "load_avg": list(os.getloadavg()),
                "log_bytes": _log_bytes(server),
                "stalls": _stalls(server),
                "machine": machine.take(),
                "paused_s": args.pause if stall is not None else 0.0,
            }
            after = _commit_buckets(server)
            row["slow_commits"] = _slow_commits(buckets, after)
            buckets = after
            rows.append(row)
            print(_line(kind, row), flush=True)
            if failures:
                break
    return {"server": kind, "rss0_mib": rss0 / 2**20, "rows": rows, "failures": failures}


def _pause_later(server: AnyServer, after: float, seconds: float) -> threading.Thread:
    """In ``after`` seconds, stop the server's process for ``seconds``, then let it go on."""
    proc = getattr(server, "ps", None)
    if proc is None:
        raise BenchError(f"{server.kind}: --pause needs a server of one process")

    def pause() -> None:
        time.sleep(after)  # the interval's middle
        proc.suspend()
        try:
            time.sleep(seconds)  # the stall under test: the server must not run meanwhile
        finally:
            proc.resume()

    thread = threading.Thread(target=pause, name="soak-pause", daemon=True)
    thread.start()
    return thread


def idle(server: AnyServer) -> None:
    """Wait (against a deadline) until the previous interval's plan has returned in the server:
    its last notification can reach the clients a moment before its task ends."""
    deadline = time.monotonic() + 30
    while server.status().get("running") and time.monotonic() < deadline:
        time.sleep(0.01)  # polling the control endpoint against a deadline


def waited(pool: Workers, interval: float) -> list[dict[str, Any]]:
    return pool.all(("wait", interval + 120), interval + 180)


def _line(kind: str, row: dict[str, Any]) -> str:
    lat = row["latency_ms"]
    st = row.get("stalls") or {}
    inside = ""
    if st:
        slow = row.get("slow_commits") or {}
        inside = (
            f"\n      inside: loop lag max {st['loop_lag']['max_ms']:.1f} ms "
            f"({st['loop_lag']['over_10ms']} over 10 ms); GC gen2 {st['gc']['2']['count']}x max "
            f"{st['gc']['2']['max_ms']:.1f} ms, gen1 max {st['gc']['1']['max_ms']:.1f} ms; "
            f"checkpoints {st['checkpoints']['count']}x max {st['checkpoints']['max_ms']:.1f} ms; "
            f"commits {slow.get('commits', 0):.0f}, over 50 ms {slow.get('over_50ms', 0):.0f}, "
            f"over 100 ms {slow.get('over_100ms', 0):.0f}; writer thread CPU "
            f"{st.get('writer_cpu', {}).get('total_ms', 0) / max(1, row['deliveries']) * 1e3:.1f}"
            " µs/deliv"
        )
        wall, restarts = st.get("writer_wall"), st.get("wal_restarts")
        if wall and restarts:
            inside += (
                f"\n      writes: max {wall['max_ms']:.1f} ms ({wall['over_50ms']} over 50 ms); "
                f"WAL restarts {restarts['count']}x max {restarts['max_ms']:.1f} ms "
                f"({restarts['over_50ms']} over 50 ms)"
            )
    if row.get("paused_s"):
        inside += f"\n      paused: the server was stopped for {row['paused_s']:g} s"
    if row.get("machine"):
        inside += f"\n      machine: {describe(row['machine'])}"
    logs = ", ".join(f"{k} {v / 2**20:.1f} MiB" for k, v in sorted(row["log_bytes"].items()))
    return (
        f"  {LABELS.get(kind, kind)} t={row['minute']:.1f} min: RSS {row['rss_mib']:.1f} MiB, "
        f"CPU {row['cpu_us_per_delivery']:.1f} µs/deliv, p50 {lat.get('p50', 0):.2f} "
        f"p99 {lat.get('p99', 0):.2f} p99.9 {lat.get('p99.9', 0):.2f} "
        f"max {lat.get('max', 0):.1f} ms, load {row['load_avg'][0]:.2f}"
        + (f"; {logs}" if logs else "")
        + inside
    )


def summary(series: dict[str, Any]) -> dict[str, Any]:
    """Whole-run figures: latency over all intervals (the worst interval's p99.9 and max, the
    median interval's p50), RSS after warm-up and its growth over the last two thirds."""
    rows = series["rows"]
    if not rows:
        return {}
    rss = [r["rss_mib"] for r in rows]
    tail = rows[len(rows) // 3 :] or rows
    p50s = sorted(r["latency_ms"].get("p50", 0.0) for r in rows)
    return {
        "intervals": len(rows),
        "rss_first_mib": rss[0],
        "rss_last_mib": rss[-1],
        "rss_growth_last_two_thirds_mib": tail[-1]["rss_mib"] - tail[0]["rss_mib"],
        "p50_ms": p50s[len(p50s) // 2],
        "worst_p99_ms": max(r["latency_ms"].get("p99", 0.0) for r in rows),
        "worst_p999_ms": max(r["latency_ms"].get("p99.9", 0.0) for r in rows),
        "max_ms": max(r["latency_ms"].get("max", 0.0) for r in rows),
        "cpu_us_per_delivery": sum(r["cpu_us_per_delivery"] * r["deliveries"] for r in rows)
        / max(1, sum(r["deliveries"] for r in rows)),
        "deliveries": sum(r["deliveries"] for r in rows),
    }


def table(all_series: list[dict[str, Any]]) -> str:
    head = (
        "| server | minutes | deliveries | RSS first MiB | RSS last MiB | RSS growth over the last "
        "2/3 MiB | CPU µs/deliv | median p50 ms | worst p99 ms | worst p99.9 ms | max ms |"
    )
    lines = [head, "|" + "---|" * 11]
    for s in all_series:
        m = summary(s)
        if not m:
            continue
        minutes = s["rows"][-1]["minute"]
        lines.append(
            f"| {LABELS.get(s['server'], s['server'])} | {minutes:.1f} | {m['deliveries']:,} | "
            f"{m['rss_first_mib']:.1f} | {m['rss_last_mib']:.1f} | "
            f"{m['rss_growth_last_two_thirds_mib']:+.1f} | {m['cpu_us_per_delivery']:.1f} | "
            f"{m['p50_ms']:.2f} | {m['worst_p99_ms']:.2f} | {m['worst_p999_ms']:.2f} | "
            f"{m['max_ms']:.1f} |"
        )
    return "\n".join(lines)


def chart(series: list[dict[str, Any]]) -> Path:
    """The soak's chart from its series (a run's, or a saved JSON's ``series``): RSS, p99.9, max
    latency and CPU per minute, and where the rows have them, the stalls beside: the canary's
    worst wake-up (the machine) and, for Grace, the writer's slowest write (the disk)."""

    def xy(s: dict[str, Any], f: Any) -> list[tuple[float, float]]:
        return [(r["minute"], f(r)) for r in s["rows"]]

    name = {s["server"]: LABELS.get(s["server"], s["server"]) for s in series}
    panels = [
        (
            "server RSS MiB",
            {f"{s['server']} {name[s['server']]}": xy(s, lambda r: r["rss_mib"]) for s in series},
        ),
        (
            "p99.9 latency ms",
            {
                f"{s['server']} {name[s['server']]} p99.9": xy(
                    s, lambda r: r["latency_ms"].get("p99.9", 0.0)
                )
                for s in series
            },
        ),
        (
            "max latency ms",
            {
                f"{s['server']} {name[s['server']]}": xy(
                    s, lambda r: r["latency_ms"].get("max", 0.0)
                )
                for s in series
            },
        ),
        (
            "CPU µs per delivery",
            {
                f"{s['server']} {name[s['server']]}": xy(s, lambda r: r["cpu_us_per_delivery"])
                for s in series
            },
        ),
    ]
    stalls = {
        f"canary beside {name[s['server']]}": xy(s, lambda r: r["machine"]["canary"]["max_ms"])
        for s in series
        if all("machine" in r for r in s["rows"])
    }
    stalls |= {
        f"{s['server']} {name[s['server']]} slowest write": xy(
            s, lambda r: r["stalls"]["writer_wall"]["max_ms"]
        )
        for s in series
        if all("writer_wall" in r.get("stalls", {}) for r in s["rows"])
    }
    if stalls:
        panels.append(("stalls ms: canary (machine), write (disk)", stalls))
    return common.line_chart("soak", "Soak: steady rate, sampled each interval", "minutes", panels)


def run(args: argparse.Namespace) -> int:
    if args.quick:
        args.minutes = min(args.minutes, 1.0)
        args.rate, args.connections, args.users = 100.0, 20, 10
    if not 0 <= args.pause < args.interval / 2:
        print("soak: --pause must be at least 0 and shorter than half an interval", file=sys.stderr)
        return 2
    if args.out is not None:
        common.RESULTS = args.out
        common.CHARTS = args.out
    info = common.start_banner()
    kinds = [k for k in args.servers.split(",") if k]
    print(
        f"Soak: {args.rate:,.0f} notifications/s to random users, {args.connections} connections "
        f"over {args.users} users, {args.minutes:g} min per server, a sample every "
        f"{args.interval:g} s",
        flush=True,
    )
    runs = []
    for kind in kinds:
        print(f"  {kind}: {psutil.getloadavg()} load average at its start", flush=True)
        runs.append(soak(kind, args))
    kept = []
    saved = common.RESULTS / "soak.json"
    if args.merge and saved.exists():
        old = json.loads(saved.read_text())
        kept = [s for s in old.get("series", []) if s["server"] not in kinds]
        for s in kept:
            s.setdefault("from", old.get("command"))
    series = runs + kept
    print()
    print(table(series))
    failures = [f for s in runs for f in s["failures"]]
    points = [
        {"server": s["server"], **r, "latency_ms": r["latency_ms"]}
        for s in series
        for r in s["rows"]
    ]
    path = common.save(
        "soak",
        info,
        points,
        series=series,
        summary={s["server"]: summary(s) for s in series},
        settings={
            "rate": args.rate,
            "connections": args.connections,
            "users": args.users,
            "interval_s": args.interval,
            "environment": _grace_environment(),
        },
        failures=failures,
        ok=not failures,
    )

    png = chart(series)
    print(f"\nwrote {path} and {png}")
    if failures:
        print("SOAK FAILED: " + "; ".join(failures))
        return 1
    print("nothing lost, nothing duplicated")
    return 0
