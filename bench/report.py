"""Tables, the JSON results file and the chart."""

from __future__ import annotations

import json
import platform
import sqlite3
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import nodejs
from bench.runner import RESUMABLE, Result

PACKAGES = [
    "grace-chat",
    "fastapi",
    "starlette",
    "uvicorn",
    "websockets",
    "uvloop",
    "httptools",
    "orjson",
    "python-socketio",
    "python-engineio",
    "picows",
]
NAMES = {
    "grace": "Grace",
    "grace-cluster": "Grace cluster, PostgreSQL + Redis",
    "seed": "seed-style",
    "socketio": "python-socketio",
    "node-socketio": "Node socket.io",
    "node-ws": "Node ws",
}


def machine() -> dict[str, Any]:
    import psutil

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "-"
    versions.update(nodejs.versions())
    return {
        "cpu": cpu,
        "cores": psutil.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "load_avg": [round(x, 2) for x in psutil.getloadavg()],
        "packages": versions,
    }


def header(info: dict[str, Any]) -> str:
    pk = ", ".join(f"{k} {v}" for k, v in info["packages"].items())
    return (
        f"Machine: {info['cpu']}, {info['cores']} cores, {info['memory_gib']} GiB, "
        f"{info['os']}; Python {info['python']}, SQLite {info['sqlite']}; "
        f"load average at start {info['load_avg']}\nPackages: {pk}"
    )


def _fmt(x: float | None, digits: int = 1) -> str:
    if x is None:
        return "-"
    if x >= 100:
        return f"{x:,.0f}"
    return f"{x:.{digits}f}"


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if a and b else "-"


def markdown_table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if n == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def delivery_table(results: list[Result]) -> str:
    grace = next((r for r in results if r.server == "grace"), None)
    rows = [
        [
            "server",
            "conns",
            "deliveries",
            "deliv/s",
            "CPU µs/deliv",
            "p50 ms",
            "p99 ms",
            "p99.9 ms",
            "max ms",
            "lost",
            "dup",
            "kernel % of CPU",
            "machine busy %",
            "Grace CPU/deliv ratio",
            "Grace deliv/s ratio",
        ]
    ]
    for r in results:
        lat = r.latency_ms
        rows.append(
            [
                NAMES.get(r.server, r.server),
                str(r.connections),
                f"{r.deliveries:,}",
                _fmt(r.deliveries_per_s),
                _fmt(r.cpu_us_per_delivery),
                _fmt(lat.get("p50")),
                _fmt(lat.get("p99")),
                _fmt(lat.get("p99.9")),
                _fmt(lat.get("max")),
                str(r.lost),
                str(r.dups + r.seq_errors),
                _fmt(r.extra.get("kernel_cpu_pct")),
                _fmt(r.extra.get("machine_busy_pct")),
                "-"
                if grace is None or r is grace
                else _ratio(grace.cpu_us_per_delivery, r.cpu_us_per_delivery),
                "-"
                if grace is None or r is grace
                else _ratio(grace.deliveries_per_s, r.deliveries_per_s),
            ]
        )
    return markdown_table(rows)


def idle_table(results: list[Result]) -> str:
    grace = next((r for r in results if r.server == "grace"), None)
    levels = sorted({int(k) for r in results for k in r.extra.get("kib_per_connection", {})})
    head = ["server", "base RSS MiB"]
    for lv in levels:
        head += [f"RSS MiB @{lv:,}", f"KiB/conn @{lv:,}"]
    head += ["connected", "Grace KiB/conn ratio"]
    rows = [head]
    for r in results:
        per = r.extra.get("kib_per_connection", {})
        row = [NAMES.get(r.server, r.server), _fmt(r.extra.get("rss_base_mb"))]
        for lv in levels:
            row += [_fmt(r.extra.get(f"rss_mb_at_{lv}")), _fmt(per.get(str(lv)))]
        top = str(levels[-1]) if levels else ""
        ratio = "-"
        if grace is not None and r is not grace and top:
            ratio = _ratio(grace.extra["kib_per_connection"].get(top, 0.0), per.get(top, 0.0))
        row += [f"{r.extra.get('connected', 0):,}", ratio]
        rows.append(row)
    return markdown_table(rows)


def reconnect_table(results: list[Result], kinds: list[str]) -> str:
    rows = [
        [
            "server",
            "clients",
            "replayed",
            "time to complete s",
            "deliv/s",
            "CPU µs/deliv",
            "lost",
            "dup",
        ]
    ]
    for r in results:
        rows.append(
            [
                NAMES.get(r.server, r.server),
                str(r.connections),
                f"{r.deliveries:,}",
                _fmt(r.seconds, 2),
                _fmt(r.deliveries_per_s),
                _fmt(r.cpu_us_per_delivery),
                str(r.lost),
                str(r.dups + r.seq_errors),
            ]
        )
    for kind in kinds:
        if kind not in RESUMABLE:
            rows.append([NAMES.get(kind, kind), "n/a: no resume", "-", "-", "-", "-", "-", "-"])
    return markdown_table(rows)


def failover_table(results: list[Result]) -> str:
    rows = [
        [
            "server",
            "clients",
            "processes",
            "moved",
            "all moved, s after kill",
            "complete, s after kill",
            "publishing after kill, s",
            "deliveries",
            "lost",
            "dup",
        ]
    ]
    for r in results:
        rows.append(
            [
                NAMES.get(r.server, r.server),
                str(r.connections),
                str(r.extra.get("processes", "-")),
                str(r.extra.get("moved", "-")),
                _fmt(r.extra.get("reconnected_s"), 2),
                _fmt(r.seconds, 2),
                _fmt(r.extra.get("publishing_after_kill_s"), 2),
                f"{r.deliveries:,}",
                str(r.lost),
                str(r.dups + r.seq_errors),
            ]
        )
    if len(rows) == 1:
        rows.append(["n/a: the cluster kind only", *["-"] * 9])
    return markdown_table(rows)


TITLES = {
    "burst": "1. Fan-out burst: {connections} connections, {users} users; {count} notifications, "
    "each to every user, {lanes} concurrent publishers",
    "storm": "2. Per-user storm: {users} users x {per_user} connections; {count} notifications to "
    "random users, {lanes} concurrent publishers",
    "steady": "3. Steady load: {rate} notifications/s to random users for {duration} s; "
    "{connections} connections, {users} users",
    "idle": "4. Idle memory: server RSS per idle connection at {levels} connections",
    "reconnect": "5. Reconnect storm: {clients} clients drop, {count} notifications each while "
    "away, all reconnect with their last seq",
    "failover": "6. Failover: {clients} clients on {processes} processes, {rate} notifications/s "
    "for {duration} s published on the first two, the last killed (SIGKILL) at {kill_at} s",
}


def render(
    by_scenario: dict[str, list[Result]], sizes: dict[str, dict[str, Any]], kinds: list[str]
) -> str:
    parts = []
    for name, results in by_scenario.items():
        parts.append("")
        parts.append(TITLES[name].format(**sizes[name]))
        parts.append("")
        if name == "idle":
            parts.append(idle_table(results))
        elif name == "reconnect":
            parts.append(reconnect_table(results, kinds))
        elif name == "failover":
            parts.append(failover_table(results))
        else:
            parts.append(delivery_table(results))
        bad = [r for r in results if not r.ok]
        for r in bad:
            parts.append(
                f"!! {NAMES.get(r.server, r.server)}: lost {r.lost}, duplicated {r.dups}, "
                f"out of sequence {r.seq_errors}, unexpected {r.unexpected}, "
                f"client errors {r.errors}"
            )
    return "\n".join(parts)


def write_json(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1, default=str))


def chart(path: Path, by_scenario: dict[str, list[Result]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    delivery = [s for s in ("burst", "storm", "steady") if s in by_scenario]
    kinds = [k for k in NAMES if any(r.server == k for s in delivery for r in by_scenario[s])]
    colors = {
        "grace": "#2a9d8f",
        "grace-cluster": "#264653",
        "seed": "#e9c46a",
        "socketio": "#e76f51",
        "node-socketio": "#8d5a97",
        "node-ws": "#457b9d",
    }
    fig, axes = plt.subplots(1, len(delivery) + 1, figsize=(5 * (len(delivery) + 1), 4.5))
    if len(delivery) + 1 == 1:
        axes = [axes]
    marks = ["p50", "p99", "p99.9"]
    width = 0.8 / max(1, len(kinds))
    for ax, scenario in zip(axes, delivery, strict=False):
        for i, kind in enumerate(kinds):
            r = next((x for x in by_scenario[scenario] if x.server == kind), None)
            if r is None:
                continue
            vals = [max(r.latency_ms.get(m, 0.0), 1e-3) for m in marks]
            xs = [j + i * width for j in range(len(marks))]
            ax.bar(xs, vals, width, label=NAMES[kind], color=colors[kind])
        ax.set_xticks([j + width * (len(kinds) - 1) / 2 for j in range(len(marks))], marks)
        ax.set_yscale("log")
        ax.set_ylabel("latency, ms (log)")
        ax.set_title(f"{scenario}: latency percentiles")
        ax.legend(fontsize=8)
    ax = axes[-1]
    for i, kind in enumerate(kinds):
        vals = []
        for scenario in delivery:
            r = next((x for x in by_scenario[scenario] if x.server == kind), None)
            vals.append(r.cpu_us_per_delivery if r else 0.0)
        xs = [j + i * width for j in range(len(delivery))]
        ax.bar(xs, vals, width, label=NAMES[kind], color=colors[kind])
    ax.set_xticks([j + width * (len(kinds) - 1) / 2 for j in range(len(delivery))], delivery)
    ax.set_ylabel("server CPU µs per delivery")
    ax.set_title("server CPU per delivery (lower is better)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
