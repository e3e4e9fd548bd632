"""``python -m bench``: Grace against the seed-style server, python-socketio and Node.js's
socket.io and ws (issues 6 and 15).

Runs every scenario on every server, each started fresh, and prints a table per scenario with the
machine and package versions on top; writes the results as JSON and the chart as PNG. Exits 1
(loudly) when any server lost or duplicated a notification.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from bench import nodejs, runner
from bench.common import raise_fd_limit
from bench.report import chart, header, machine, render, write_json
from bench.runner import FULL, QUICK, SCENARIOS, SERVERS, BenchError, Result, run_scenario, scaled

REPO = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--quick", action="store_true", help="tiny sizes (seconds), for smoke tests")
    p.add_argument("--scale", type=float, default=1.0, help="multiply notification counts")
    p.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated")
    p.add_argument("--servers", default=",".join(SERVERS), help="comma-separated")
    p.add_argument("--workers", type=int, default=2, help="load-generator processes")
    p.add_argument("--json", type=Path, default=REPO / "bench" / "results" / "latest.json")
    p.add_argument("--chart", type=Path, default=REPO / "docs" / "bench.png")
    p.add_argument("--profile", type=Path, help="py-spy the servers into this folder (slows them)")
    p.add_argument(
        "--lanes",
        default="",
        help="concurrent publishers, e.g. burst=8,storm=64 (defaults: burst=4, storm=512)",
    )
    p.add_argument(
        "--postgres-url",
        default=runner.POSTGRES_URL,
        help="grace-cluster: a PostgreSQL server's admin database (a database is made per run)",
    )
    p.add_argument("--redis-url", default=runner.REDIS_URL, help="grace-cluster: the Redis")
    args = p.parse_args(argv)
    if args.profile is not None:
        runner.PROFILE_DIR = args.profile
    runner.POSTGRES_URL, runner.REDIS_URL = args.postgres_url, args.redis_url

    scenarios = [s for s in args.scenarios.split(",") if s]
    kinds = [k for k in args.servers.split(",") if k]
    for s in scenarios:
        if s not in SCENARIOS:
            p.error(f"unknown scenario {s!r} (known: {', '.join(SCENARIOS)})")
    for k in kinds:
        if k not in SERVERS:
            p.error(f"unknown server {k!r} (known: {', '.join(SERVERS)})")
    skipped: dict[str, str] = {}
    if "grace-cluster" in kinds:
        why = runner.cluster_unavailable(args.postgres_url, args.redis_url)
        if why is not None:
            skipped["grace-cluster"] = why
            kinds.remove("grace-cluster")
    if any(k in nodejs.SCRIPTS for k in kinds):
        try:
            nodejs.ensure_installed()
        except nodejs.NodeMissing as exc:
            print(f"python -m bench: {exc}", file=sys.stderr, flush=True)
            return 2
    sizes = scaled(QUICK if args.quick else FULL, args.scale)
    for item in (x for x in args.lanes.split(",") if x):
        name, _, value = item.partition("=")
        if name not in sizes or "lanes" not in sizes[name] or not value.isdigit() or value == "0":
            p.error(f"--lanes takes SCENARIO=N for burst or storm, not {item!r}")
        sizes[name]["lanes"] = int(value)
    fd_limit = raise_fd_limit()
    info = machine()
    info["fd_limit"] = fd_limit
    print(header(info), flush=True)
    print(
        "Grace: embedded SQLite log, synchronous=FULL (durable); every server has its own process;"
        f" {args.workers} load-generator processes (picows).",
        flush=True,
    )
    if "grace-cluster" in kinds:
        print(
            f"Grace cluster: {runner.CLUSTER_PROCESSES} `grace serve` processes on one PostgreSQL"
            " database and Redis; clients of a user on one process, its notifications published"
            " on another (failover: 3 processes); CPU = Grace processes + all PostgreSQL processes"
            " + redis-server.",
            flush=True,
        )
    for kind, why in skipped.items():
        print(f"SKIPPED {kind}: {why}", flush=True)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    by_scenario: dict[str, list[Result]] = {}
    failures: list[str] = []
    started = time.time()
    for name in scenarios:
        try:
            by_scenario[name] = run_scenario(name, kinds, sizes[name], args.workers, log)
        except BenchError as exc:
            failures.append(f"{name}: {exc}")
            log(f"!! {name}: {exc}")
    text = render(by_scenario, sizes, kinds)
    print(text, flush=True)
    payload: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "command": "python -m bench " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": info,
        "sizes": sizes,
        "results": {k: [r.as_dict() for r in v] for k, v in by_scenario.items()},
        "failures": failures,
        "skipped": skipped,
    }
    write_json(args.json, payload)
    if any(s in by_scenario for s in ("burst", "storm", "steady")):
        chart(args.chart, by_scenario)
    print(f"\nResults: {args.json}  Chart: {args.chart}", flush=True)
    bad = [r for v in by_scenario.values() for r in v if not r.ok]
    if failures or bad:
        print(
            "BENCHMARK FAILED: "
            + "; ".join(failures + [f"{r.scenario}/{r.server} lost or duplicated" for r in bad]),
            flush=True,
        )
        return 1
    print("All runs complete: nothing lost, nothing duplicated.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
