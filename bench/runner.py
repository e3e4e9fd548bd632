"""The orchestrator: starts each server fresh, drives the workers, measures the server process.

Server CPU is the server process's own user+system CPU time (all its threads, the SQLite writer
included) from just before publishing starts to the moment the last worker has everything. For
``grace-cluster`` (several ``grace serve`` processes on one PostgreSQL database and Redis) it is
the whole server side: the Grace processes, every process of the PostgreSQL cluster (its
backends and its WAL writer, checkpointer and the rest) and ``redis-server``.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing as mp
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil

from bench import nodejs
from bench.client import worker_main
from bench.common import HOST, home, raise_fd_limit, targets, user_name

SERVERS = {
    "grace": "bench.grace_server",
    "grace-cluster": "bench.grace_server",
    "seed": "bench.baselines.seed_server",
    "socketio": "bench.baselines.socketio_server",
    "node-socketio": "bench/baselines/node/socketio_server.js",
    "node-ws": "bench/baselines/node/ws_server.js",
}
#: The cluster's shared services (``--postgres-url``, ``--redis-url``): the PostgreSQL server's
#: admin database (each run creates a database of its own there and drops it) and Redis (each run
#: uses a channel prefix of its own).
POSTGRES_URL = os.environ.get(
    "GRACE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("GRACE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
#: Processes of the ``grace-cluster`` kind, and of the failover scenario.
CLUSTER_PROCESSES = 2
FAILOVER_PROCESSES = 3
REPO = Path(__file__).resolve().parent.parent
#: When set (``--profile DIR``), py-spy samples the server while it publishes and delivers.
PROFILE_DIR: Path | None = None


class BenchError(RuntimeError):
    pass


#: CPU samples: ``{"group:pid": (user+system, system)}``, compared by ``cpu_delta``.
Sample = dict[str, tuple[float, float]]


def cpu_sample(groups: dict[str, list[psutil.Process]]) -> Sample:
    out: Sample = {}
    for group, procs in groups.items():
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                t = proc.cpu_times()
                out[f"{group}:{proc.pid}"] = (float(t.user + t.system), float(t.system))
    return out


def cpu_delta(before: Sample, after: Sample) -> tuple[float, float, dict[str, float]]:
    """CPU seconds (total, kernel, per group) between two samples. A process born in between
    counts from zero; one that ended in between is not counted (its last figures are gone)."""
    total = system = 0.0
    groups: dict[str, float] = {}
    for key, (cpu, sys_) in after.items():
        cpu0, sys0 = before.get(key, (0.0, 0.0))
        total += cpu - cpu0
        system += sys_ - sys0
        group = key.partition(":")[0]
        groups[group] = groups.get(group, 0.0) + cpu - cpu0
    return total, system, groups


def spawn_profiler(pid: int, out: Path) -> subprocess.Popen[bytes]:
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    return subprocess.Popen(
        [
            *(spy, "record", "--pid", str(pid), "--rate", "250"),
            *("--format", "raw", "--threads", "--nonblocking", "--output", str(out)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop_profilers(spies: list[subprocess.Popen[bytes]]) -> None:
    for spy in spies:
        spy.send_signal(signal.SIGINT)
    for spy in spies:
        try:
            spy.wait(30)
        except subprocess.TimeoutExpired:
            spy.kill()


#: The protocol the load generator speaks to each kind (``bench/client.py``), where not the kind.
CLIENT_KINDS = {
    "grace": "grace",
    "grace-cluster": "grace",
    "node-socketio": "socketio",
    "node-ws": "seed",
}


def with_plan(spec: dict[str, Any]) -> dict[str, Any]:
    """``spec`` with the explicit targets of a random-user plan (``storm``, ``steady``) as
    ``plan``: Python's generator made them, and every server, Python's or Node's, publishes
    that very sequence."""
    if spec.get("scenario") not in ("storm", "steady") or "plan" in spec:
        return spec
    return {**spec, "plan": targets(int(spec["seed"]), int(spec["count"]), int(spec["users"]))}


class Server:
    """One server under test in its own OS process on a loopback port."""

    #: The protocol the load generator speaks to it.
    client_kind = "grace"

    def __init__(
        self,
        kind: str,
        extra: list[str] | None = None,
        tag: str = "",
        data_dir: Path | None = None,
    ) -> None:
        """``data_dir``: a directory made for this server (a copy of a pre-filled log, see
        ``bench.prefill``) that it opens instead of an empty one; removed with the server."""
        self.kind = kind
        self.client_kind = CLIENT_KINDS.get(kind, kind)
        if kind in nodejs.SCRIPTS:
            try:
                cmd = nodejs.command(kind)
            except nodejs.NodeMissing as exc:
                raise BenchError(f"{kind}: {exc}") from exc
            raise_fd_limit()  # Node cannot raise its own: it inherits this process's
        else:
            cmd = [sys.executable, "-m", SERVERS[kind]]
        self.data_dir = data_dir or Path(tempfile.mkdtemp(prefix=f"bench-{kind}{tag}-"))
        if kind.startswith("grace"):
            cmd += ["--data-dir", str(self.data_dir), *(extra or [])]
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
        # An idle kept-alive connection is dropped after 1 s, before the server's own keep-alive
        # timeout (5 s) can close it under a request sent at that moment (a reset).
        self.http = httpx.Client(
            base_url=f"http://{HOST}:{self.port}",
            timeout=600,
            limits=httpx.Limits(keepalive_expiry=1.0),
        )
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

    def sample(self) -> Sample:
        return cpu_sample({"server": [self.ps]})

    def connect(self, pool: Workers, conns: list[tuple[int, str]], timeout: float) -> float:
        return pool.connect(self.client_kind, self.port, conns, timeout)

    def publish(self, spec: dict[str, Any]) -> dict[str, Any]:
        r = self.http.post("/bench/publish", json=with_plan(spec))
        body: dict[str, Any] = r.json()
        if r.status_code != 200 or "error" in body:
            raise BenchError(f"{self.kind}: publishing failed: {body}")
        return body

    def profile_start(self, label: str) -> list[subprocess.Popen[bytes]]:
        if PROFILE_DIR is None:
            return []
        PROFILE_DIR.mkdir(parents=True, exist_ok=True)
        return [spawn_profiler(self.proc.pid, PROFILE_DIR / f"{label}-{self.kind}.txt")]

    @staticmethod
    def profile_stop(spies: list[subprocess.Popen[bytes]]) -> None:
        stop_profilers(spies)

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = self.http.get("/bench/status").json()
        return body

    def kill(self) -> None:
        """SIGKILL: no goodbye to anyone."""
        self.proc.kill()
        self.proc.wait(10)

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


def cluster_unavailable(postgres_url: str, redis_url: str) -> str | None:
    """Why the ``grace-cluster`` kind cannot run here (a driver or a service missing), or None."""
    try:
        import asyncpg
        import redis.asyncio  # noqa: F401
    except ImportError as exc:
        return f"the {exc.name} driver is not installed (pip install 'grace-chat[postgres,redis]')"

    async def probe() -> str | None:
        from redis.asyncio import Redis

        try:
            conn = await asyncpg.connect(postgres_url, timeout=5)
            await conn.close()
        except Exception as exc:
            return f"no PostgreSQL server answered at {postgres_url}: {type(exc).__name__}: {exc}"
        client = Redis.from_url(redis_url, socket_connect_timeout=2)
        try:
            await client.ping()
        except Exception as exc:
            return f"no Redis server answered at {redis_url}: {type(exc).__name__}: {exc}"
        finally:
            await client.aclose()
        return None

    return asyncio.run(probe())


async def _pg_admin(url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url, timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _with_database(url: str, name: str) -> str:
    head, _, tail = url.rpartition("/")
    query = tail.partition("?")[2]
    return f"{head}/{name}" + (f"?{query}" if query else "")


def service_processes() -> dict[str, list[psutil.Process]]:
    """The local PostgreSQL cluster's processes (postmaster and all its children) and
    ``redis-server``."""
    found: dict[str, list[psutil.Process]] = {"postgres": [], "redis": []}
    for proc in psutil.process_iter(["name"]):
        name = proc.info["name"] or ""
        if name == "postgres" or name.startswith("postgres:"):
            found["postgres"].append(proc)
        elif name.startswith("redis-server"):
            found["redis"].append(proc)
    return found


class Cluster:
    """``grace-cluster``: ``processes`` Grace processes on one PostgreSQL database (made for
    this session, dropped after) and one Redis channel prefix; clients of user ``u`` connect to
    process ``home(u)``; each process runs its part of every publishing plan."""

    client_kind = "grace"

    def __init__(self, kind: str, processes: int = CLUSTER_PROCESSES) -> None:
        self.kind = kind
        self.db = f"grace_bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        self.prefix = f"gbench-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        asyncio.run(_pg_admin(POSTGRES_URL, f'CREATE DATABASE "{self.db}"'))
        self.url = _with_database(POSTGRES_URL, self.db)
        extra = [
            "--database-url",
            self.url,
            "--redis-url",
            REDIS_URL,
            "--redis-prefix",
            self.prefix,
        ]
        self.members: list[Server] = []
        try:
            # The first applies the schema; the others then start together.
            self.members.append(Server("grace-cluster", extra, tag="0"))
            with ThreadPoolExecutor(processes) as ex:
                futures = [
                    ex.submit(Server, "grace-cluster", extra, f"{i}") for i in range(1, processes)
                ]
                for f in futures:
                    self.members.append(f.result())
        except BaseException:
            self.stop()
            raise
        self.pool = ThreadPoolExecutor(processes)
        self.services = service_processes()

    @property
    def port(self) -> int:
        return self.members[0].port

    @property
    def ports(self) -> list[int]:
        return [m.port for m in self.members]

    def alive(self) -> list[Server]:
        return [m for m in self.members if m.proc.poll() is None]

    def connect(self, pool: Workers, conns: list[tuple[int, str]], timeout: float) -> float:
        n = len(self.members)
        placed = [(c, u, self.members[home(int(u[1:]), n)].port) for c, u in conns]
        return pool.connect(self.client_kind, self.port, placed, timeout)  # type: ignore[arg-type]

    def rss(self) -> int:
        return sum(m.rss() for m in self.alive())

    def sample(self) -> Sample:
        # Fresh each time: PostgreSQL starts a backend per new connection.
        self.services = service_processes()
        return cpu_sample({"grace": [m.ps for m in self.alive()], **self.services})

    def cpu(self) -> float:
        return sum(m.cpu() for m in self.alive())

    def publish(self, spec: dict[str, Any], on: list[int] | None = None) -> dict[str, Any]:
        """Each of the processes ``on`` (default: all) runs its part of ``spec``."""
        chosen = [self.members[i] for i in (range(len(self.members)) if on is None else on)]
        specs = [{**spec, "part": i, "parts": len(chosen)} for i in range(len(chosen))]
        bodies = list(self.pool.map(lambda a: a[0].publish(a[1]), zip(chosen, specs, strict=True)))
        return {"processes": bodies}

    def status(self) -> dict[str, Any]:
        return {"processes": [m.status() for m in self.alive()]}

    def profile_start(self, label: str) -> list[subprocess.Popen[bytes]]:
        if PROFILE_DIR is None:
            return []
        PROFILE_DIR.mkdir(parents=True, exist_ok=True)
        return [
            spawn_profiler(m.proc.pid, PROFILE_DIR / f"{label}-{self.kind}-{i}.txt")
            for i, m in enumerate(self.members)
        ]

    @staticmethod
    def profile_stop(spies: list[subprocess.Popen[bytes]]) -> None:
        stop_profilers(spies)

    def log_tail(self) -> str:
        return "\n".join(m.log_tail() for m in self.members)

    def stop(self) -> None:
        with ThreadPoolExecutor(max(1, len(self.members))) as ex:
            list(ex.map(lambda m: m.stop(), self.members))
        if hasattr(self, "pool"):
            self.pool.shutdown()
        with contextlib.suppress(Exception):
            asyncio.run(
                _pg_admin(POSTGRES_URL, f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')
            )


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


AnyServer = Server | Cluster


def start(kind: str, processes: int = CLUSTER_PROCESSES, data_dir: Path | None = None) -> AnyServer:
    return Cluster(kind, processes) if kind == "grace-cluster" else Server(kind, data_dir=data_dir)


@contextlib.contextmanager
def session(
    kind: str, workers: int, processes: int = CLUSTER_PROCESSES, data_dir: Path | None = None
) -> Iterator[tuple[AnyServer, Workers]]:
    server = start(kind, processes, data_dir)
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
    data_dir: Path | None = None,
) -> Result:
    res = Result(scenario, kind, connections, users)
    with session(kind, workers, data_dir=data_dir) as (server, pool):
        res.extra["connect_s"] = server.connect(pool, layout(connections, users), 300)
        pool.all(("arm", expect), 60)
        spy = server.profile_start(scenario)
        before = server.sample()
        machine0 = psutil.cpu_times()
        t0 = time.time_ns()
        server.publish(spec)
        answers = pool.all(("wait", timeout), timeout + 60)
        res.cpu_s, kernel, groups = cpu_delta(before, server.sample())
        res.extra["kernel_cpu_pct"] = 100.0 * kernel / res.cpu_s if res.cpu_s > 0 else 0.0
        if len(groups) > 1:
            res.extra["cpu_s_by_group"] = groups
        res.extra["machine_busy_pct"] = machine_busy_pct(machine0, psutil.cpu_times())
        server.profile_stop(spy)
        res.extra["rss_mb"] = server.rss() / 2**20
        res.extra["publisher"] = server.status()
    collect(res, answers, t0)
    res.notifications = spec["count"] * (users if scenario == "burst" else 1)
    return res


def fanout_burst(
    kind: str, size: dict[str, Any], workers: int, data_dir: Path | None = None
) -> Result:
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
        data_dir,
    )


def user_storm(
    kind: str, size: dict[str, Any], workers: int, data_dir: Path | None = None
) -> Result:
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
        kind,
        "storm",
        users * size["per_user"],
        users,
        spec,
        expect,
        workers,
        size["timeout"],
        data_dir,
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
            server.connect(pool, conns, 600)
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
        server.connect(pool, layout(clients, clients), 300)
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
        spy = server.profile_start("reconnect")
        before = server.sample()
        t0 = time.time_ns()
        reconnected = pool.all(("reconnect",), 300)
        answers = pool.all(("wait", size["timeout"]), size["timeout"] + 60)
        res.cpu_s = cpu_delta(before, server.sample())[0]
        server.profile_stop(spy)
        failed = sum(a["failures"] for a in reconnected)
        if failed:
            raise BenchError(f"{kind}: {failed} reconnections failed")
    collect(res, answers, t0)
    res.notifications = count * clients
    return res


def failover(kind: str, size: dict[str, Any], workers: int) -> Result:
    """``processes`` Grace processes, ``clients`` clients (one per user) spread over them; the
    first two publish ``rate`` notifications/s to random users for ``duration`` s; ``kill_at`` s
    in, the last process is killed with SIGKILL. Its clients reconnect to the others with their
    last ``seq``. ``seconds`` is from the kill until every client has every notification."""
    clients, rate, duration = size["clients"], size["rate"], size["duration"]
    count = int(rate * duration)
    res = Result("failover", kind, clients, clients)
    with session(kind, workers, size["processes"]) as (server, pool):
        assert isinstance(server, Cluster)
        server.connect(pool, layout(clients, clients), 300)
        pool.all(("failover", server.ports), 30)
        expect = {"mode": "targets", "seed": 8, "count": count, "users": clients}
        pool.all(("arm", expect), 60)
        spec = {"scenario": "steady", "users": clients, "count": count, "seed": 8, "rate": rate}
        victim = server.members[-1]
        before = server.sample()
        started = time.time_ns()
        server.publish(spec, on=list(range(len(server.members) - 1)))
        time.sleep(max(0.0, size["kill_at"] - (time.time_ns() - started) / 1e9))
        t_kill = time.time_ns()
        victim.kill()
        answers = pool.all(("wait", size["timeout"]), size["timeout"] + 60)
        res.cpu_s = cpu_delta(before, server.sample())[0]
        res.extra["publisher"] = server.status()
    collect(res, answers, t_kill)
    res.notifications = count
    moved_ns = max(a["moved_ns"] for a in answers)
    res.extra["moved"] = sum(a["moved"] for a in answers)
    res.extra["reconnected_s"] = (moved_ns - t_kill) / 1e9 if moved_ns else 0.0
    res.extra["publishing_after_kill_s"] = duration - size["kill_at"]
    res.extra["processes"] = size["processes"]
    return res


SCENARIOS = {
    "burst": fanout_burst,
    "storm": user_storm,
    "steady": steady_load,
    "idle": idle_memory,
    "reconnect": reconnect_storm,
    "failover": failover,
}
#: The failover scenario needs several processes on a shared log: the cluster kind only.
FAILOVER_KINDS = {"grace-cluster"}
#: Baselines have no resume: the reconnect storm runs on Grace only.
RESUMABLE = {"grace", "grace-cluster"}

FULL: dict[str, dict[str, Any]] = {
    "burst": {"connections": 1000, "users": 500, "count": 1000, "lanes": 4, "timeout": 600},
    "storm": {"users": 1000, "per_user": 2, "count": 100_000, "lanes": 512, "timeout": 600},
    "steady": {"connections": 1000, "users": 500, "rate": 2000, "duration": 20},
    "idle": {"levels": [1000, 10_000]},
    "reconnect": {"clients": 1000, "count": 100, "warm": 5, "timeout": 300},
    "failover": {
        **{"clients": 1000, "processes": FAILOVER_PROCESSES, "rate": 2000, "duration": 3.0},
        **{"kill_at": 1.5, "timeout": 60},
    },
}
QUICK: dict[str, dict[str, Any]] = {
    "burst": {"connections": 20, "users": 10, "count": 20, "lanes": 2, "timeout": 60},
    "storm": {"users": 10, "per_user": 2, "count": 500, "lanes": 8, "timeout": 60},
    "steady": {"connections": 20, "users": 10, "rate": 200, "duration": 1},
    "idle": {"levels": [20, 100]},
    "reconnect": {"clients": 20, "count": 10, "warm": 2, "timeout": 60},
    "failover": {
        **{"clients": 30, "processes": FAILOVER_PROCESSES, "rate": 200, "duration": 1.0},
        **{"kill_at": 0.5, "timeout": 60},
    },
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
        if name == "failover" and kind not in FAILOVER_KINDS:
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
