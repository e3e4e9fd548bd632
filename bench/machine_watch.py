"""What the machine did while a server was measured: to tell a server's stall from the machine's.

A soak's slow minute can be the server's (its loop, its commits) or the machine's (the
hypervisor took the CPU away, the virtual disk was slow for everyone, another process ran). Per
interval, ``MachineWatch.take`` returns, since the previous call:

- ``canary``: how late a separate, idle process woke from sleeps of ``TICK`` seconds (count,
  maximum, how many over 10 and 50 ms). It does nothing else, so a late wake-up is the
  scheduler's or the hypervisor's, never a server's code; a server's loop lag that the canary
  saw at the same time is not the server's own.
- ``cpu_ms``: the machine's CPU time by kind from ``/proc/stat`` (``steal`` is time the
  hypervisor gave to other guests while this one had work; ``iowait``).
- ``pressure_ms``: Linux's pressure-stall totals (``/proc/pressure``): time in which some task
  waited for a CPU (``cpu_some``) or for I/O (``io_some``; ``io_full``: every task waited).
- ``disk``: the whole disks' writes and flushes (``/proc/diskstats``), with their average time.

Each figure is absent where the kernel does not provide it.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from pathlib import Path
from typing import Any

TICK = 0.01
_CPU_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
# canary slots: count, max seconds, over 10 ms, over 50 ms
_COUNT, _MAX, _OVER10, _OVER50 = range(4)


def _canary(slots: Any, stop: Any) -> None:
    while not stop.is_set():
        due = time.monotonic() + TICK
        time.sleep(TICK)
        late = max(0.0, time.monotonic() - due)
        with slots.get_lock():
            slots[_COUNT] += 1
            slots[_MAX] = max(slots[_MAX], late)
            slots[_OVER10] += late > 0.010
            slots[_OVER50] += late > 0.050


def cpu_ms() -> dict[str, float]:
    """The machine's CPU time by kind since boot, in ms (all CPUs together)."""
    try:
        first = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    except OSError:
        return {}
    tick_ms = 1000 / os.sysconf("SC_CLK_TCK")
    return {k: int(v) * tick_ms for k, v in zip(_CPU_FIELDS, first[1:], strict=False)}


def pressure_ms() -> dict[str, float]:
    """Pressure-stall totals since boot, in ms: ``cpu_some``, ``io_some``, ``io_full``."""
    out: dict[str, float] = {}
    for res in ("cpu", "io"):
        try:
            text = Path(f"/proc/pressure/{res}").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            kind, *fields = line.split()
            total = dict(f.split("=", 1) for f in fields).get("total")
            if total is not None and not (res == "cpu" and kind == "full"):
                out[f"{res}_{kind}"] = int(total) / 1000
    return out


def disk() -> dict[str, float]:
    """Writes and flushes of the whole disks (not partitions) since boot, with the ms spent."""
    try:
        lines = Path("/proc/diskstats").read_text().splitlines()
    except OSError:
        return {}
    whole = {p.name for p in Path("/sys/block").iterdir() if (p / "device").exists()}
    out = {"writes": 0.0, "write_ms": 0.0, "flushes": 0.0, "flush_ms": 0.0}
    for line in lines:
        f = line.split()
        if len(f) < 14 or f[2] not in whole:
            continue
        out["writes"] += int(f[7])
        out["write_ms"] += int(f[10])
        if len(f) >= 20:
            out["flushes"] += int(f[18])
            out["flush_ms"] += int(f[19])
    return out


def _delta(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {k: after[k] - before.get(k, 0.0) for k in after}


class MachineWatch:
    """Start with ``start()`` (or as a context manager); ``take()`` per interval; ``stop()``."""

    def __init__(self) -> None:
        ctx = mp.get_context("spawn")
        self._slots = ctx.Array("d", 4)
        self._stop = ctx.Event()
        self._proc = ctx.Process(target=_canary, args=(self._slots, self._stop), daemon=True)
        self._last = self._read()

    def _read(self) -> dict[str, dict[str, float]]:
        return {"cpu_ms": cpu_ms(), "pressure_ms": pressure_ms(), "disk": disk()}

    def start(self) -> MachineWatch:
        self._proc.start()
        return self

    def __enter__(self) -> MachineWatch:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._proc.join(5)
        if self._proc.is_alive():
            self._proc.kill()

    def take(self) -> dict[str, Any]:
        now = self._read()
        out: dict[str, Any] = {k: _delta(now[k], self._last[k]) for k in now}
        self._last = now
        d = out["disk"]
        if d.get("writes"):
            d["avg_write_ms"] = d["write_ms"] / d["writes"]
        if d.get("flushes"):
            d["avg_flush_ms"] = d["flush_ms"] / d["flushes"]
        with self._slots.get_lock():
            s = list(self._slots)
            self._slots[:] = [0.0] * len(s)
        out["canary"] = {
            "count": int(s[_COUNT]),
            "max_ms": s[_MAX] * 1e3,
            "over_10ms": int(s[_OVER10]),
            "over_50ms": int(s[_OVER50]),
        }
        return out


def describe(m: dict[str, Any]) -> str:
    """One line: the canary's worst lag, steal and iowait, pressure, the disk's flush time."""
    c, cpu, pr, d = m["canary"], m["cpu_ms"], m["pressure_ms"], m["disk"]
    parts = [f"canary max {c['max_ms']:.1f} ms ({c['over_10ms']} over 10 ms)"]
    if cpu:
        parts.append(f"steal {cpu.get('steal', 0):.0f} ms, iowait {cpu.get('iowait', 0):.0f} ms")
    if pr:
        parts.append(
            f"pressure cpu {pr.get('cpu_some', 0):.0f} ms, io {pr.get('io_some', 0):.0f}/"
            f"{pr.get('io_full', 0):.0f} ms"
        )
    if d.get("flushes"):
        parts.append(f"disk {d['flushes']:.0f} flushes avg {d.get('avg_flush_ms', 0):.2f} ms")
    if d.get("writes"):
        parts.append(f"{d['writes']:.0f} writes avg {d.get('avg_write_ms', 0):.2f} ms")
    return "; ".join(parts)
