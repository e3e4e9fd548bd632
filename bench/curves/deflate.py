"""permessage-deflate on and off: server CPU per delivery and bytes on the wire at a steady rate.

Browsers offer permessage-deflate in every WebSocket handshake; picows, the main load generator,
does not. This curve's clients use the ``websockets`` library instead (``compression="deflate"``
offers the extension, ``None`` does not), in a process of their own, and count the bytes the
server sent them as they come off the socket (frame headers included, TCP/IP headers not). The
server offers the extension or not: Grace through ``GRACE_WS_DEFLATE``, the baselines through
uvicorn's ``ws_per_message_deflate`` (``BENCH_WS_DEFLATE``). For each server and each setting: a
fresh server, ``--connections`` clients over ``--users`` users, ``--rate`` notifications a second
to random users for ``--seconds`` (the steady plan, published inside the server); every
notification must arrive exactly once (Grace: in ``seq`` order).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing as mp
import os
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import orjson

from bench.common import HOST, STREAM_PATH, raise_fd_limit, targets, user_name
from bench.curves import common
from bench.runner import BenchError, cpu_delta, percentiles, start

#: Grace and every baseline this curve applies to (one list; the Node kinds join it when merged).
DEFAULT_SERVERS = ["grace", "seed"]
LABELS = {"grace": "Grace", "seed": "seed-style", "socketio": "python-socketio"}
#: Each server's switch, read in the server process.
SWITCH = {"grace": "GRACE_WS_DEFLATE"}
BASELINE_SWITCH = "BENCH_WS_DEFLATE"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--servers", default=",".join(DEFAULT_SERVERS), help="comma-separated kinds")
    p.add_argument("--rate", type=float, default=1000.0, help="notifications a second")
    p.add_argument("--seconds", type=float, default=15.0, help="seconds of load per point")
    p.add_argument("--connections", type=int, default=200)
    p.add_argument("--users", type=int, default=100)
    p.add_argument("--out", type=Path, default=None, help="directory for the JSON and PNG")
    p.add_argument("--quick", action="store_true", help="2 s at 100/s, 20 connections")


# -- the client process ---------------------------------------------------------------------


class Client:
    """One connection's receiving side: what arrived, against what must."""

    def __init__(self, kind: str, user: str, expected: set[int]) -> None:
        self.kind = kind
        self.user = user
        self.expected = expected
        self.got: set[int] = set()
        self.dups = self.unexpected = self.seq_errors = self.errors = 0
        self.last_seq: int | None = None
        self.latencies: list[int] = []
        self.ready = asyncio.get_running_loop().create_future()
        self.done = asyncio.get_running_loop().create_future()
        if not expected:
            self.done.set_result(None)

    def message(self, payload: str | bytes) -> None:
        now = time.time_ns()
        if self.kind == "grace":
            for line in payload.split("\n" if isinstance(payload, str) else b"\n"):
                f = orjson.loads(line)
                t = f["type"]
                if t == "synced":
                    self.last_seq = f["seq"]
                    if not self.ready.done():
                        self.ready.set_result(None)
                elif t in ("welcome", "pong"):
                    pass
                elif t == "error":
                    self.errors += 1
                else:
                    if self.last_seq is not None and f["seq"] != self.last_seq + 1:
                        self.seq_errors += 1
                    self.last_seq = f["seq"]
                    self.notification(f, now)
        else:
            f = orjson.loads(payload)
            if f["type"] == "welcome":
                if not self.ready.done():
                    self.ready.set_result(None)
            elif f["type"] != "pong":
                self.notification(f, now)

    def notification(self, f: dict[str, Any], now: int) -> None:
        k = f["data"]["k"]
        if k in self.got:
            self.dups += 1
        elif k not in self.expected:
            self.unexpected += 1
        else:
            self.got.add(k)
            self.latencies.append(now - f["data"]["t"])
            if len(self.got) == len(self.expected) and not self.done.done():
                self.done.set_result(None)


async def client_run(pipe: Connection, cfg: dict[str, Any]) -> None:
    from websockets.asyncio.client import ClientConnection, connect

    received = [0]

    class Counting(ClientConnection):
        def data_received(self, data: bytes) -> None:
            received[0] += len(data)
            super().data_received(data)

    plan = targets(cfg["seed"], cfg["count"], cfg["users"])
    wanted: dict[str, set[int]] = {}
    for k, u in enumerate(plan):
        wanted.setdefault(user_name(u), set()).add(k)
    clients = [
        Client(
            cfg["kind"], user_name(c % cfg["users"]), wanted.get(user_name(c % cfg["users"]), set())
        )
        for c in range(cfg["connections"])
    ]
    compression = "deflate" if cfg["deflate"] else None
    negotiated = 0

    async def one(c: Client, gate: asyncio.Semaphore) -> None:
        nonlocal negotiated
        url = f"ws://{HOST}:{cfg['port']}{STREAM_PATH}?user_id={c.user}"
        async with gate:
            ws = await connect(
                url, compression=compression, create_connection=Counting, max_size=None
            )
        if ws.response is not None and "permessage-deflate" in (
            ws.response.headers.get("Sec-WebSocket-Extensions") or ""
        ):
            negotiated += 1
        try:
            async for message in ws:
                c.message(message)
        except Exception:
            c.errors += 1
        finally:
            await ws.close()

    gate = asyncio.Semaphore(64)
    tasks = [asyncio.get_running_loop().create_task(one(c, gate)) for c in clients]
    await asyncio.wait_for(asyncio.gather(*(c.ready for c in clients)), 120)
    start_bytes = received[0]
    pipe.send({"ready": True, "negotiated": negotiated})
    await asyncio.get_running_loop().run_in_executor(None, pipe.recv)  # "go": publishing began
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(*(c.done for c in clients)), cfg["timeout"])
    done_ns = time.time_ns()
    report = {
        "bytes": received[0] - start_bytes,
        "done_ns": done_ns,
        "unique": sum(len(c.got) for c in clients),
        "lost": sum(len(c.expected) - len(c.got) for c in clients),
        "dups": sum(c.dups for c in clients),
        "unexpected": sum(c.unexpected for c in clients),
        "seq_errors": sum(c.seq_errors for c in clients),
        "errors": sum(c.errors for c in clients),
        "latencies_ns": [x for c in clients for x in c.latencies],
    }
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    pipe.send(report)


def client_main(pipe: Connection, cfg: dict[str, Any]) -> None:
    raise_fd_limit()
    asyncio.run(client_run(pipe, cfg))


# -- the orchestrator -----------------------------------------------------------------------


@contextlib.contextmanager
def switched(kind: str, on: bool) -> Iterator[None]:
    """The server's deflate switch in the environment its process inherits."""
    name = SWITCH.get(kind, BASELINE_SWITCH)
    old = os.environ.get(name)
    os.environ[name] = "1" if on else "0"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


def point(kind: str, on: bool, args: argparse.Namespace) -> dict[str, Any]:
    count = max(1, int(args.rate * args.seconds))
    with switched(kind, on):
        server = start(kind)
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    cfg = {
        "kind": "grace" if kind.startswith("grace") else kind,
        "port": server.port,
        "connections": args.connections,
        "users": args.users,
        "seed": 11,
        "count": count,
        "deflate": on,
        "timeout": args.seconds + 120,
    }
    proc = ctx.Process(target=client_main, args=(child, cfg), daemon=True)
    try:
        proc.start()
        child.close()
        if not parent.poll(180):
            raise BenchError(f"{kind}: the websockets clients did not connect")
        hello = parent.recv()
        before = server.sample()
        t0 = time.time_ns()
        server.publish(
            {
                "scenario": "steady",
                "users": args.users,
                "count": count,
                "seed": 11,
                "rate": args.rate,
            }
        )
        parent.send("go")
        if not parent.poll(cfg["timeout"] + 60):
            raise BenchError(f"{kind}: the websockets clients did not report")
        report = parent.recv()
        cpu_s = cpu_delta(before, server.sample())[0]
        rss = server.rss()
    finally:
        proc.join(10)
        if proc.is_alive():
            proc.kill()
        server.stop()
    got = report["unique"]
    return {
        "server": kind,
        "deflate": on,
        "negotiated": hello["negotiated"],
        "connections": args.connections,
        "deliveries": got,
        "seconds": (report["done_ns"] - t0) / 1e9,
        "cpu_us_per_delivery": cpu_s * 1e6 / got if got else 0.0,
        "bytes_per_delivery": report["bytes"] / got if got else 0.0,
        "wire_bytes": report["bytes"],
        "rss_mib": rss / 2**20,
        "latency_ms": percentiles(report.pop("latencies_ns")),
        "lost": report["lost"],
        "dups": report["dups"],
        "errors": report["unexpected"] + report["seq_errors"] + report["errors"],
        "load_avg": list(os.getloadavg()),
    }


def table(points: list[dict[str, Any]]) -> str:
    lines = [
        "| server | deflate | negotiated | deliveries | CPU µs/deliv | bytes/deliv on the wire | "
        "p50 ms | p99 ms | RSS MiB | lost | dup | CPU on/off | bytes on/off |",
        "|" + "---|" * 13,
    ]
    off = {p["server"]: p for p in points if not p["deflate"]}
    for p in points:
        base = off.get(p["server"])
        cpu_ratio = bytes_ratio = "-"
        if p["deflate"] and base and base["cpu_us_per_delivery"] and base["bytes_per_delivery"]:
            cpu_ratio = f"{p['cpu_us_per_delivery'] / base['cpu_us_per_delivery']:.2f}x"
            bytes_ratio = f"{p['bytes_per_delivery'] / base['bytes_per_delivery']:.2f}x"
        lat = p["latency_ms"]
        lines.append(
            f"| {LABELS.get(p['server'], p['server'])} | {'on' if p['deflate'] else 'off'} | "
            f"{p['negotiated']}/{p['connections']} | {p['deliveries']:,} | "
            f"{p['cpu_us_per_delivery']:.1f} | {p['bytes_per_delivery']:.1f} | "
            f"{lat.get('p50', 0):.2f} | {lat.get('p99', 0):.2f} | {p['rss_mib']:.1f} | "
            f"{p['lost']} | {p['dups']} | {cpu_ratio} | {bytes_ratio} |"
        )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if args.quick:
        args.rate, args.seconds, args.connections, args.users = 100.0, 2.0, 20, 10
    if args.out is not None:
        common.RESULTS = args.out
        common.CHARTS = args.out
    info = common.start_banner()
    kinds = [k for k in args.servers.split(",") if k]
    print(
        f"permessage-deflate: {args.rate:,.0f} notifications/s to random users for "
        f"{args.seconds:g} s, {args.connections} websockets clients over {args.users} users",
        flush=True,
    )
    points = []
    failures = []
    for kind in kinds:
        for on in (False, True):
            p = point(kind, on, args)
            print(
                f"  {kind} deflate {'on' if on else 'off'}: {p['cpu_us_per_delivery']:.1f} µs, "
                f"{p['bytes_per_delivery']:.1f} B per delivery, load {p['load_avg'][0]:.2f}",
                flush=True,
            )
            points.append(p)
            expect_negotiated = p["connections"] if on else 0
            if p["lost"] or p["dups"] or p["errors"] or p["negotiated"] != expect_negotiated:
                failures.append(
                    f"{kind} deflate {'on' if on else 'off'}: lost {p['lost']}, dup {p['dups']}, "
                    f"errors {p['errors']}, negotiated {p['negotiated']}/{p['connections']}"
                )
    print()
    print(table(points))
    path = common.save("deflate", info, points, failures=failures, ok=not failures)

    def series(metric: str) -> dict[str, list[tuple[float, float]]]:
        return {
            f"{k} {LABELS.get(k, k)}": [
                (1.0 if p["deflate"] else 0.0, p[metric]) for p in points if p["server"] == k
            ]
            for k in kinds
        }

    png = common.line_chart(
        "deflate",
        "permessage-deflate off (0) and on (1)",
        "permessage-deflate",
        [
            ("server CPU µs per delivery", series("cpu_us_per_delivery")),
            ("bytes per delivery on the wire", series("bytes_per_delivery")),
        ],
    )
    print(f"\nwrote {path} and {png}")
    if failures:
        print("DEFLATE FAILED: " + "; ".join(failures))
        return 1
    print("nothing lost, nothing duplicated")
    return 0
