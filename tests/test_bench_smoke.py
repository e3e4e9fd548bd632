"""The benchmark harness at tiny sizes, so it cannot rot (the full run is not a test)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def test_bench_quick_run_completes_with_nothing_lost_or_duplicated(tmp_path: Path) -> None:
    out_json = tmp_path / "results.json"
    out_png = tmp_path / "bench.png"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--quick",
            "--scenarios",
            "burst,reconnect",
            "--servers",
            "grace,seed",
            "--json",
            str(out_json),
            "--chart",
            str(out_png),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "Machine:" in out and "Packages:" in out
    assert "1. Fan-out burst: 20 connections, 10 users" in out
    assert "5. Reconnect storm: 20 clients" in out
    assert "CPU µs/deliv" in out and "p99 ms" in out
    assert "| Grace " in out and "| seed-style " in out
    assert "n/a: no resume" in out
    assert "nothing lost, nothing duplicated" in out

    results = json.loads(out_json.read_text())
    assert not results["failures"]
    burst = {r["server"]: r for r in results["results"]["burst"]}
    assert set(burst) == {"grace", "seed"}
    for r in burst.values():
        assert r["ok"] and r["lost"] == 0 and r["dups"] == 0 and r["seq_errors"] == 0
        assert r["deliveries"] == 20 * 20  # 20 connections x 20 notifications
        # CPU time ticks in 10 ms steps: a tiny run may round to zero
        assert r["cpu_us_per_delivery"] >= 0 and r["latency_ms"]["p99"] > 0
    (reconnect,) = results["results"]["reconnect"]
    assert reconnect["server"] == "grace" and reconnect["ok"]
    assert reconnect["deliveries"] == 20 * 10
    assert out_png.stat().st_size > 1000


def test_the_postgresql_driver_bench_runs_both_drivers_and_the_log(postgres_database: str) -> None:
    from tests.support.postgres import ADMIN_URL

    proc = subprocess.run(
        [
            sys.executable, "-m", "bench.store_pg", "--url", ADMIN_URL, "--cells", "4,4x2",
            "--seconds", "0.3", "--runs", "1", "--store", "4",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    for row in ("| asyncpg | 4 | 1 |", "| psycopg | 4 | 1 |", "| asyncpg | 4 | 2 |"):
        assert row in out, out
    assert "Grace's log (PostgresNotificationLog)" in out and "| 4 | " in out


def test_bench_quick_run_on_two_processes_with_postgresql_and_redis(
    postgres_database: str, tmp_path: Path
) -> None:
    """The ``grace-cluster`` kind beside single-process Grace: 2 processes, one PostgreSQL
    database of the run's own, Redis under a prefix of its own; skipped (a failure under CI)
    without PostgreSQL or Redis, as the other engine tests."""
    from tests.support.postgres import ADMIN_URL
    from tests.support.redis import require_redis

    redis_url = require_redis()
    out_json = tmp_path / "results.json"
    proc = subprocess.run(
        [
            sys.executable, "-m", "bench", "--quick", "--scenarios",
            "storm,steady,reconnect,failover",
            "--servers", "grace,grace-cluster", "--postgres-url", ADMIN_URL,
            "--redis-url", redis_url, "--json", str(out_json), "--chart", str(tmp_path / "b.png"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "SKIPPED" not in out, out
    assert "| Grace cluster, PostgreSQL + Redis " in out
    results = json.loads(out_json.read_text())
    assert not results["failures"] and not results["skipped"]
    for scenario in ("storm", "steady", "reconnect"):
        rows = {r["server"]: r for r in results["results"][scenario]}
        assert set(rows) == {"grace", "grace-cluster"}, scenario
        cluster = rows["grace-cluster"]
        assert cluster["ok"] and cluster["deliveries"] == rows["grace"]["deliveries"] > 0
    storm = {r["server"]: r for r in results["results"]["storm"]}["grace-cluster"]
    # both processes published, and the server side's CPU counts PostgreSQL and Redis too
    assert [p["published"] for p in storm["extra"]["publisher"]["processes"]] != [500, 0]
    assert sum(p["published"] for p in storm["extra"]["publisher"]["processes"]) == 500
    assert set(storm["extra"]["cpu_s_by_group"]) == {"grace", "postgres", "redis"}
    # one process of three killed: its clients (a third) moved, every client complete
    (fail,) = results["results"]["failover"]
    assert fail["server"] == "grace-cluster" and fail["ok"] and fail["deliveries"] == 200
    assert fail["extra"]["moved"] == 10 and fail["seconds"] > 0


def test_the_cluster_kind_is_skipped_with_the_reason_when_postgresql_is_not_there(
    tmp_path: Path,
) -> None:
    proc = subprocess.run(
        [
            sys.executable, "-m", "bench", "--quick", "--scenarios", "steady",
            "--servers", "grace-cluster", "--postgres-url", "postgresql://nobody@127.0.0.1:1/x",
            "--json", str(tmp_path / "r.json"), "--chart", str(tmp_path / "b.png"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SKIPPED grace-cluster: " in proc.stdout
    assert "PostgreSQL" in proc.stdout or "asyncpg" in proc.stdout


def test_bench_quick_run_with_the_node_baselines(tmp_path: Path) -> None:
    """Node's socket.io and ws servers (``bench/baselines/node``, their npm packages installed
    from the lock file on first use) in every delivery scenario, beside the seed-style server:
    every notification exactly once, the random-user plans' targets the same as Python's."""
    out_json = tmp_path / "results.json"
    proc = subprocess.run(
        [
            sys.executable, "-m", "bench", "--quick", "--scenarios",
            "burst,storm,steady,idle,reconnect", "--servers", "seed,node-socketio,node-ws",
            "--json", str(out_json), "--chart", str(tmp_path / "bench.png"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=420,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "node 2" in out and "socket.io 4." in out and "ws 8." in out  # versions in the header
    assert "| Node socket.io " in out and "| Node ws " in out
    assert out.count("n/a: no resume") == 3
    results = json.loads(out_json.read_text())
    assert not results["failures"]
    expected = {"burst": 20 * 20, "storm": 500 * 2, "steady": 200 * 2}
    for scenario, deliveries in expected.items():
        rows = {r["server"]: r for r in results["results"][scenario]}
        assert set(rows) == {"seed", "node-socketio", "node-ws"}, scenario
        for kind, r in rows.items():
            assert r["ok"] and r["deliveries"] == deliveries, (scenario, kind)
            assert r["unexpected"] == 0 and "error" not in r["extra"]["publisher"]
            # latency from the server's epoch-nanosecond stamp to the client's wall clock
            assert 0 < r["latency_ms"]["p50"] < 10_000, (scenario, kind, r["latency_ms"])
    idle = {r["server"]: r for r in results["results"]["idle"]}
    assert idle["node-ws"]["extra"]["connected"] == idle["node-socketio"]["extra"]["connected"]
    assert idle["node-ws"]["extra"]["connected"] == 100


NODE_CLOCK = """
import { epochNs } from "./bench/baselines/node/common.js";
import { createInterface } from "node:readline";
createInterface({ input: process.stdin }).on("line", () => process.stdout.write(`${epochNs()}\\n`));
"""


def test_the_node_servers_stamp_the_wall_clock_in_nanoseconds() -> None:
    """``data.t`` of the Node servers is read against Python's ``time.time_ns()``: a stamp taken
    between two readings of Python's clock lies between them (within 0.5 ms of calibration)."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed")
    proc = subprocess.Popen(
        [node, "--input-type=module", "-e", NODE_CLOCK],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        rounds = []
        for _ in range(200):
            before = time.time_ns()
            proc.stdin.write("\n")
            proc.stdin.flush()
            stamp = int(proc.stdout.readline())
            rounds.append((before, stamp, time.time_ns()))
    finally:
        proc.stdin.close()
        proc.wait(10)
    before, stamp, after = min(rounds, key=lambda r: r[2] - r[0])
    assert before - 500_000 <= stamp <= after + 500_000, (before, stamp, after)


def test_a_node_baseline_without_node_names_what_is_missing(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}
    proc = subprocess.run(
        [
            sys.executable, "-m", "bench", "--quick", "--scenarios", "burst",
            "--servers", "node-ws", "--json", str(tmp_path / "r.json"),
            "--chart", str(tmp_path / "b.png"),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "need node on PATH" in proc.stderr and "npm" in proc.stderr
    assert not (tmp_path / "r.json").exists()
