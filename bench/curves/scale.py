"""What the scale curves (``connections``, ``users``, ``reconnect``) share: the open-files limit.

Every server under test and every load-generator worker raises its soft open-files limit to the
hard limit (``bench.common.raise_fd_limit``). A server holds one file descriptor per connection,
so the most connections one server process can take is its limit less what it keeps for itself
(``RESERVE``: the listening socket, the log's files, the event loop's own descriptors). A point
of a curve above that is not run: it is printed as ``not reached: open-files limit N``, and the
JSON says so, so a chart never silently stops short. ``docs/deploy.md`` says what an operator
sets to go further.
"""

from __future__ import annotations

import math
import resource
from pathlib import Path
from typing import Any

import psutil

from bench.report import markdown_table

#: File descriptors a server process keeps for other than its connections.
RESERVE = 500
#: Connections one load-generator worker holds at most (it has the same limit as the server).
PER_WORKER = 15_000


def open_files_limit(pid: int | None = None) -> int:
    """The soft open-files limit of process ``pid`` (default: this one)."""
    if pid is None:
        return int(resource.getrlimit(resource.RLIMIT_NOFILE)[0])
    soft, _ = psutil.Process(pid).rlimit(psutil.RLIMIT_NOFILE)
    return int(soft)


def capacity(limit: int) -> int:
    """The most connections a server process with open-files limit ``limit`` can hold."""
    return max(0, limit - RESERVE)


def not_reached(limit: int) -> str:
    return f"not reached: open-files limit {limit:,}"


def workers_for(connections: int, requested: int) -> int:
    """Load-generator workers for ``connections``: at least ``requested``, and enough that none
    holds more than ``PER_WORKER``."""
    return max(requested, math.ceil(connections / PER_WORKER))


def server_limit(kind: str) -> int:
    """The open-files limit a server of ``kind`` gets: start one, read it, stop it."""
    from bench.runner import Server

    server = Server(kind)
    try:
        return open_files_limit(server.proc.pid)
    finally:
        server.stop()


def unreached_point(kind: str, x: int, limit: int, **extra: Any) -> dict[str, Any]:
    """The JSON record of a point that the open-files limit kept the curve from."""
    return {"server": kind, "x": x, "reached": False, "why": not_reached(limit), **extra}


def redirect_output(directory: Path) -> None:
    """``--out DIR``: this run's JSON and chart go to ``DIR`` rather than into the repository
    (the smoke tests' runs must not overwrite the committed full-size figures)."""
    from bench.curves import common

    directory.mkdir(parents=True, exist_ok=True)
    common.RESULTS = directory
    common.CHARTS = directory


def series(points: list[dict[str, Any]], key: str) -> dict[str, list[tuple[float, float]]]:
    """A chart's series per server: each point's ``key`` (or its latency percentile ``key``)
    against its ``x``; points without that figure are left out."""
    out: dict[str, list[tuple[float, float]]] = {}
    for p in points:
        value = p[key] if key in p else p["latency_ms"].get(key)
        if value is not None:
            out.setdefault(p["server"], []).append((p["x"], value))
    return out


def fmt(x: float | None, digits: int = 1) -> str:
    if x is None:
        return "-"
    if x >= 100:
        return f"{x:,.0f}"
    return f"{x:.{digits}f}"


#: A Markdown table (the first row is the header), as the benchmark prints its own.
table = markdown_table
