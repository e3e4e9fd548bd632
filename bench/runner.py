"""The orchestrator: starts each server fresh, drives the workers, measures the server process.

Server CPU is the server process's own user+system CPU time (all its threads, the SQLite writer
included) from just before publishing starts to the moment the last worker has everything.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil

from bench.client import worker_main
from bench.common import HOST, user_name

SERVERS = {
    "grace": "bench.grace_server",
    "seed": "bench.baselines.seed_server",
    "socketio": "bench.baselines.socketio_server",
}
REPO = Path(__file__).resolve().parent.parent
#: When set (``--profile DIR``), py-spy samples the server while it publishes and delivers.
PROFILE_DIR: Path | None = None


class BenchError(RuntimeError):
    pass


class Server:
    """One server under test in its own OS process on a loopback port."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.data_dir = Path(tempfile.mkdtemp(prefix=f"bench-{kind}-"))
        cmd = [sys.executable, "-m", SERVERS[kind]]
        if kind == "grace":
            cmd += ["--data-dir", str(self.data_dir)]
        self.proc = subprocess.Popen(
            cmd,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=open(self.data_dir / "server.log", "w"),  # noqa: SIM115 - closed with the process
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("LISTEN "):
            self.stop()
            raise BenchError(f"{kind} server did not start: {self.log_tail()}")
        self.port = int(line.split()[1])
        self.http = httpx.Client(base_url=f"http://{HOST}:{self.port}", timeout=600)
        deadline = time.monotonic() + 30
        while True:
            try:
                if self.http.get("/bench/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                raise BenchError(f"{kind} server is not answering: {self.log_tail()}")
            time.sleep(0.05)  # polling the health endpoint against a deadline
        self.ps = psutil.Process(self.proc.pid)

    def log_tail(self) -> str:
        try:
            return (self.data_dir / "server.log").read_text()[-2000:]
        except OSError:
            return ""

    def cpu(self) -> float:
        t = self.ps.cpu_times()
        return float(t.user + t.system)

    def cpu_system(self) -> float:
        """The kernel's share of ``cpu``: system calls (socket writes, fsync) and what they do."""
        return float(self.ps.cpu_times().system)

    def rss(self) -> int:
        return int(self.ps.memory_info().rss)

    def publish(self, spec: dict[str, Any]) -> dict[str, Any]:
        r = self.http.post("/bench/publish", json=spec)
        body: dict[str, Any] = r.json()
        if r.status_code != 200 or "error" in body:
            raise BenchError(f"{self.kind}: publishing failed: {body}")
        return body

    def profile_start(self, label: str) -> subprocess.Popen[bytes] | None:
        if PROFILE_DIR is None:
            return None
        PROFILE_DIR.mkdir(parents=True, exist_ok=True)
        out = PROFILE_DIR / f"{label}-{self.kind}.txt"
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        return subprocess.Popen(
            [
                *(spy, "record", "--pid", str(self.proc.pid), "--rate", "250"),
                *("--format", "raw", "--threads", "--nonblocking", "--output", str(out)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    @staticmethod
    def profile_stop(spy: subprocess.Popen[bytes] | None) -> None:
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            try:
                spy.wait(30)
            except subprocess.TimeoutExpired:
                spy.kill()

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = self.http.get("/bench/status").json()
        return body

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.http.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        shutil.rmtree(self.data_dir, ignore_errors=True)


class Workers:
    """Load-generator processes; each command goes to all and waits for every answer."""

    def __init__(self, count: int) -> None:
        ctx = mp.get_context("spawn")
        self.pipes: list[Connection] = []
        self.procs: list[Any] = []
        for _ in range(count):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=worker_main, args=(child,), daemon=True)
            proc.start()
            child.close()
            self.pipes.append(parent)
            self.procs.append(proc)

    def call(self, per_worker: list[tuple[Any, ...]], timeout: float) -> list[dict[str, Any]]:
        for pipe, cmd in zip(self.pipes, per_worker, strict=True):
            pipe.send(cmd)
        deadline = time.monotonic() + timeout
        answers = []
        for pipe in self.pipes:
            if not pipe.poll(max(0.0, deadline - time.monotonic())):
                raise BenchError(f"a load-generator worker did not answer {per_worker[0][0]!r}")
            answers.append(pipe.recv())
        return answers

    def all(self, cmd: tuple[Any, ...], timeout: float) -> list[dict[str, Any]]:
        return self.call([cmd] * len(self.pipes), timeout)

    def connect(self, kind: str, port: int, conns: list[tuple[int, str]], timeout: float) -> float:
        shares = [conns[i :: len(self.pipes)] for i in range(len(self.pipes))]
        started = time.perf_counter()
        answers = self.call([("connect", kind, port, s) for s in shares], timeout)
        failed = sum(a["failures"] for a in answers)
        if failed:
            raise BenchError(f"{kind}: {failed} of {len(conns)} connections failed")
        return time.perf_counter() - started

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.all(("close",), 10)
        for proc in self.procs:
            proc.join(5)
            if proc.is_alive():
                proc.kill()
        for pipe in self.pipes:
            pipe.close()


@contextlib.contextmanager
def session(kind: str, workers: int) -> Iterator[tuple[Server, Workers]]:
    server = Server(kind)
    pool = None
    try:
        pool = Workers(workers)
        yield server, pool
    finally:
        if pool is not None:
            pool.close()
        server.stop()


def layout(connections: int, users: int) -> list[tuple[int, str]]:
    return [(c, user_name(c % users)) for c in range(connections)]


@dataclass
class Result:
    scenario: str
    server: str
    connections: int
    users: int
    notifications: int = 0
    deliveries: int = 0
    seconds: float = 0.0
    cpu_s: float = 0.0
    lost: int = 0
    dups: int = 0
    unexpected: int = 0
    seq_errors: int = 0
    errors: int = 0
    latency_ms: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.dups or self.unexpected or self.seq_errors or self.errors)

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["ok"] = self.ok
        d["deliveries_per_s"] = self.deliveries_per_s
        d["cpu_us_per_delivery"] = self.cpu_us_per_delivery
        return d

    @property
    def deliveries_per_s(self) -> float:
        return self.deliveries / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_us_per_delivery(self) -> float:
        return self.cpu_s * 1e6 / self.deliveries if self.deliveries else 0.0


def percentiles(latencies_ns: list[int]) -> dict[str, float]:
    if not latencies_ns:
        return {}
    a = np.asarray(latencies_ns, dtype=np.float64) / 1e6
    p50, p99, p999 = np.percentile(a, [50, 99, 99.9])
    return {"p50": float(p50), "p99": float(p99), "p99.9": float(p999), "max": float(a.max())}


def machine_busy_pct(before: Any, after: Any) -> float:
    """How busy all the machine's cores were between two ``psutil.cpu_times()`` (100 = all)."""
    total = sum(after) - sum(before)
    idle = (after.idle - before.idle) + (after.iowait - before.iowait)
    return 100.0 * (total - idle) / total if total > 0 else 0.0


def collect(res: Result, answers: list[dict[str, Any]], t0: int) -> None:
    lat: list[int] = []
    done = 0
    for a in answers:
        res.deliveries += a["unique"]
        res.lost += a["lost"]
        res.dups += a["dups"]
        res.unexpected += a["unexpected"]
        res.seq_errors += a["seq_errors"]
        res.errors += a["errors"]
        lat.extend(a["latencies_ns"])
        done = max(done, a["done_ns"])
    res.seconds = (done - t0) / 1e9 if done and not res.lost else 0.0
    res.latency_ms = percentiles(lat)


# -- scenarios ------------------------------------------------------------------------------


def delivery_run(
    kind: str,
    scenario: str,
    connections: int,
    users: int,
    spec: dict[str, Any],
    expect: dict[str, Any],
    workers: int,
    timeout: float,
) -> Result:
    res = Result(scenario, kind, connections, users)
    with session(kind, workers) as (server, pool):
        res.extra["connect_s"] = pool.connect(kind, server.port, layout(connections, users), 300)
        pool.all(("arm", expect), 60)
        spy = server.profile_start(scenario)
        cpu0, sys0 = server.cpu(), server.cpu_system()
        machine0 = psutil.cpu_times()
        t0 = time.time_ns()
        server.publish(spec)
        answers = pool.all(("wait", timeout), timeout + 60)
        res.cpu_s = server.cpu() - cpu0
        res.extra["kernel_cpu_pct"] = (
            100.0 * (server.cpu_system() - sys0) / res.cpu_s if res.cpu_s > 0 else 0.0
        )
        res.extra["machine_busy_pct"] = machine_busy_pct(machine0, psutil.cpu_times())
        server.profile_stop(spy)
        res.extra["rss_mb"] = server.rss() / 2**20
        res.extra["publisher"] = server.status()
    collect(res, answers, t0)
    res.notifications = spec["count"] * (users if scenario == "burst" else 1)
    return res


def fanout_burst(kind: str, size: dict[str, Any], workers: int) -> Result:
    conns, users, count = size["connections"], size["users"], size["count"]
    spec = {"scenario": "burst", "users": users, "count": count, "concurrency": size["lanes"]}
    return delivery_run(
        kind,
        "burst",
        conns,
        users,
        spec,
        {"mode": "range", "lo": 0, "hi": count},
        workers,
        size["timeout"],
    )


def user_storm(kind: str, size: dict[str, Any], workers: int) -> Result:
    users, count = size["users"], size["count"]
    spec = {
        "scenario": "storm",
        "users": users,
        "count": count,
        "seed": 6,
        "concurrency": size["lanes"],
    }
    expect = {"mode": "targets", "seed": 6, "count": count, "users": users}
    return delivery_run(
        kind, "storm", users * size["per_user"], users, spec, expect, workers, size["timeout"]
    )


def steady_load(kind: str, size: dict[str, Any], workers: int) -> Result:
    users, rate, duration = size["users"], size["rate"], size["duration"]
    count = int(rate * duration)
    spec = {"scenario": "steady", "users": users, "count": count, "seed": 7, "rate": rate}
    expect = {"mode": "targets", "seed": 7, "count": count, "users": users}
    res = delivery_run(
        kind, "steady", size["connections"], users, spec, expect, workers, duration + 120
    )
    res.extra["rate"] = rate
    res.extra["duration_s"] = duration
    return res


def idle_memory(kind: str, size: dict[str, Any], workers: int) -> Result:
    levels = sorted(size["levels"])
    res = Result("idle", kind, levels[-1], levels[-1] // 2)
    with session(kind, workers) as (server, pool):
        base = server.rss()
        res.extra["rss_base_mb"] = base / 2**20
        have = 0
        per: dict[str, float] = {}
        for level in levels:
            conns = [(c, user_name(c // 2)) for c in range(have, level)]
            pool.connect(kind, server.port, conns, 600)
            have = level
            rss = server.rss()
            per[str(level)] = (rss - base) / level / 1024
            res.extra[f"rss_mb_at_{level}"] = rss / 2**20
        res.extra["kib_per_connection"] = per
        res.extra["connected"] = have
    return res


def reconnect_storm(kind: str, size: dict[str, Any], workers: int) -> Result:
    clients, count, warm = size["clients"], size["count"], size["warm"]
    res = Result("reconnect", kind, clients, clients)
    with session(kind, workers) as (server, pool):
        pool.connect(kind, server.port, layout(clients, clients), 300)
        # A few live notifications first, so every client has a real last seq.
        pool.all(("arm", {"mode": "range", "lo": 0, "hi": warm}), 60)
        server.publish(
            {"scenario": "reconnect", "users": clients, "count": warm, "k0": 0, "wait": True}
        )
        warmed = pool.all(("wait", 120), 180)
        if any(a["lost"] or a["dups"] for a in warmed):
            raise BenchError(f"{kind}: warm-up notifications were lost or duplicated")
        pool.all(("drop",), 120)
        away = {
            "scenario": "reconnect",
            "users": clients,
            "count": count,
            "k0": warm,
            "wait": True,
            "concurrency": 4,
        }
        server.publish(away)
        pool.all(("arm", {"mode": "range", "lo": warm, "hi": warm + count}), 60)
        cpu0 = server.cpu()
        t0 = time.time_ns()
        reconnected = pool.all(("reconnect",), 300)
        answers = pool.all(("wait", size["timeout"]), size["timeout"] + 60)
        res.cpu_s = server.cpu() - cpu0
        failed = sum(a["failures"] for a in reconnected)
        if failed:
            raise BenchError(f"{kind}: {failed} reconnections failed")
    collect(res, answers, t0)
    res.notifications = count * clients
    return res


SCENARIOS = {
    "burst": fanout_burst,
    "storm": user_storm,
    "steady": steady_load,
    "idle": idle_memory,
    "reconnect": reconnect_storm,
}
#: Baselines have no resume: the reconnect storm runs on Grace only.
RESUMABLE = {"grace"}

FULL: dict[str, dict[str, Any]] = {
    "burst": {"connections": 1000, "users": 500, "count": 1000, "lanes": 4, "timeout": 600},
    "storm": {"users": 1000, "per_user": 2, "count": 100_000, "lanes": 512, "timeout": 600},
    "steady": {"connections": 1000, "users": 500, "rate": 2000, "duration": 20},
    "idle": {"levels": [1000, 10_000]},
    "reconnect": {"clients": 1000, "count": 100, "warm": 5, "timeout": 300},
}
QUICK: dict[str, dict[str, Any]] = {
    "burst": {"connections": 20, "users": 10, "count": 20, "lanes": 2, "timeout": 60},
    "storm": {"users": 10, "per_user": 2, "count": 500, "lanes": 8, "timeout": 60},
    "steady": {"connections": 20, "users": 10, "rate": 200, "duration": 1},
    "idle": {"levels": [20, 100]},
    "reconnect": {"clients": 20, "count": 10, "warm": 2, "timeout": 60},
}


def scaled(preset: dict[str, dict[str, Any]], scale: float) -> dict[str, dict[str, Any]]:
    """The size knob: ``scale`` multiplies notification counts and the steady duration."""
    out = {k: dict(v) for k, v in preset.items()}
    if scale != 1.0:
        for name in ("burst", "storm", "reconnect"):
            out[name]["count"] = max(1, int(out[name]["count"] * scale))
        out["steady"]["duration"] = max(1.0, out["steady"]["duration"] * scale)
    return out


def run_scenario(
    name: str, kinds: list[str], size: dict[str, Any], workers: int, log: Any
) -> list[Result]:
    results = []
    for kind in kinds:
        if name == "reconnect" and kind not in RESUMABLE:
            continue
        log(f"  {name}: {kind} ...")
        started = time.perf_counter()
        res = SCENARIOS[name](kind, size, workers)
        res.extra["wall_s"] = time.perf_counter() - started
        log(f"  {name}: {kind} done in {res.extra['wall_s']:.1f}s ({'ok' if res.ok else 'FAILED'})")
        results.append(res)
    return results


def cpu_count() -> int:
    return os.cpu_count() or 1
