"""What the disk alone does: a durable commit's write and ``fdatasync``, at a steady rate.

A server that answers only once a notification is on the disk cannot answer faster than the
disk's flush. This probe measures that floor with no server at all: ``--rate`` times a second it
overwrites ``--size`` bytes of a preallocated file (as SQLite's WAL is rewritten after it starts
over) and calls ``os.fdatasync``, the call a commit with ``synchronous=FULL`` ends with, and
times it. Per ``--interval``: the count, p50, p99, p99.9 and max of those times, how many took
over 10 and 50 ms, and the machine beside it (``bench.machine_watch``). When the disk alone has
flushes over 50 ms, no durable commit on it can promise a maximum latency under that.

    .venv/bin/python -m bench.disk_flush --seconds 360          # the soak's rate, six minutes
    .venv/bin/python -m bench.disk_flush --dir /var/lib/grace   # the data directory's disk
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.machine_watch import MachineWatch, describe
from bench.runner import percentiles

#: The WAL's size after it starts over at 8,192 frames (``sqlite_db.WAL_RESTART_FRAMES``).
FILE_BYTES = 32 << 20


def flushes(
    directory: Path, rate: float, seconds: float, size: int, interval: float
) -> list[dict[str, Any]]:
    """Write and ``fdatasync`` ``rate`` times a second for ``seconds``; a row per interval."""
    rows: list[dict[str, Any]] = []
    block = os.urandom(size)
    with tempfile.NamedTemporaryFile(dir=directory, prefix="disk-flush-") as f, MachineWatch() as m:
        fd = f.fileno()
        os.posix_fallocate(fd, 0, FILE_BYTES)
        os.fsync(fd)
        offset, times = 0, []  # each flush's time, ns
        started = time.monotonic()
        due = started
        interval_end = started + interval
        m.take()
        while True:
            now = time.monotonic()
            if now >= interval_end or now - started >= seconds:
                rows.append(_row(times, now - started, m.take()))
                times = []
                interval_end += interval
                if now - started >= seconds:
                    return rows
            if due > now:
                time.sleep(due - now)
            due += 1 / rate
            t0 = time.perf_counter_ns()
            os.pwrite(fd, block, offset)
            os.fdatasync(fd)
            times.append(time.perf_counter_ns() - t0)
            offset = (offset + size) % (FILE_BYTES - size)


def _row(times_ns: list[int], at: float, machine: dict[str, Any]) -> dict[str, Any]:
    return {
        "at_s": round(at, 1),
        "count": len(times_ns),
        "ms": percentiles(times_ns),
        "over_10ms": sum(t > 10_000_000 for t in times_ns),
        "over_50ms": sum(t > 50_000_000 for t in times_ns),
        "machine": machine,
    }


def table(rows: list[dict[str, Any]]) -> str:
    out = [
        "| at s | flushes | p50 ms | p99 ms | p99.9 ms | max ms | over 10 ms | over 50 ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        p = r["ms"]
        if not p:
            continue
        out.append(
            f"| {r['at_s']:.0f} | {r['count']} | {p['p50']:.2f} | {p['p99']:.2f} | "
            f"{p['p99.9']:.2f} | {p['max']:.1f} | {r['over_10ms']} | {r['over_50ms']} |"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.disk_flush", description=__doc__)
    p.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()), help="on which disk")
    p.add_argument("--rate", type=float, default=220.0, help="flushes a second (the soak's)")
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--interval", type=float, default=60.0, help="seconds per row")
    p.add_argument("--size", type=int, default=96 << 10, help="bytes written before each flush")
    p.add_argument("--out", type=Path, default=None, help="write the rows as JSON here")
    args = p.parse_args(argv)
    if args.rate <= 0 or args.seconds <= 0 or args.interval <= 0 or args.size <= 0:
        p.error("--rate, --seconds, --interval and --size must be positive")
    if not args.dir.is_dir():
        p.error(f"--dir {args.dir} is not a directory")
    if args.size > FILE_BYTES // 2:
        p.error(f"--size must be at most {FILE_BYTES // 2} bytes")
    print(
        f"disk flush: {args.size} bytes written and fdatasync'd {args.rate:g} times a second "
        f"for {args.seconds:g} s in {args.dir}"
    )
    rows = flushes(args.dir, args.rate, args.seconds, args.size, args.interval)
    print(table(rows))
    for r in rows:
        print(f"  at {r['at_s']:.0f} s, machine: {describe(r['machine'])}")
    everything = [r for r in rows if r["ms"]]
    if everything:
        worst = max(r["ms"]["max"] for r in everything)
        slow = sum(r["over_50ms"] for r in everything)
        print(f"worst flush {worst:.1f} ms; {slow} of {sum(r['count'] for r in rows)} over 50 ms")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        saved = vars(args) | {"dir": str(args.dir), "out": None}
        args.out.write_text(json.dumps({"args": saved, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
