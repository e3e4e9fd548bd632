"""``python -m bench.perf_threads FILE``: a Linux ``perf`` profile of a server, thread by thread.

``FILE`` is what ``perf script -F tid,ip,sym,dso`` printed of a ``perf record -g`` of the server
process (``perf record -g -F 999 -p PID -o OUT -- sleep 10``, then ``perf script -i OUT -F
tid,ip,sym,dso > FILE``). Prints, for each thread with the most samples first: its share of the
process's samples, then the share of its own samples in each library (CPython, SQLite, the
kernel, ...), the functions most often on top of its stack, and the system calls its samples
were in. py-spy (``bench.profile``) names Python functions but not the time in C and in the
kernel; this names those, and tells the event loop's thread from the SQLite writer's.
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Thread:
    samples: int = 0
    libraries: Counter[str] = field(default_factory=Counter)
    functions: Counter[str] = field(default_factory=Counter)
    syscalls: Counter[str] = field(default_factory=Counter)


def _syscall(frames: list[str]) -> str | None:
    """The system call a stack is in (its entry point, named as the kernel names it)."""
    for frame in frames:
        name = frame.rpartition(" (")[0] or frame
        if name.startswith(("__x64_sys_", "__do_sys_", "ksys_")):
            return name
    return None


def parse(text: str) -> dict[str, Thread]:
    """The samples of ``perf script -F tid,ip,sym,dso`` output, grouped by thread id."""
    threads: dict[str, Thread] = {}
    for block in text.split("\n\n"):
        lines = [line.strip() for line in block.strip().splitlines() if line.strip()]
        if not lines:
            continue
        thread = threads.setdefault(lines[0].split()[0], Thread())
        thread.samples += 1
        # each frame: address, symbol (may hold spaces), then the library in parentheses
        frames = [line.split(None, 1)[1] if " " in line else "?" for line in lines[1:]]
        if not frames:
            continue
        top = frames[0]
        symbol, _, library = top.rpartition(" (")
        thread.functions[symbol or top] += 1
        thread.libraries[library.rstrip(")").rsplit("/", 1)[-1] or "?"] += 1
        call = _syscall(frames)
        if call is not None:
            thread.syscalls[call] += 1
    return threads


def summarize(threads: dict[str, Thread], top: int = 12) -> str:
    total = sum(t.samples for t in threads.values()) or 1
    out = [f"{total} samples"]
    for tid, t in sorted(threads.items(), key=lambda item: -item[1].samples):
        out.append(f"thread {tid}: {t.samples / total:.0%} of the samples")
        for title, counts in (
            ("library", t.libraries),
            ("function", t.functions),
            ("system call", t.syscalls),
        ):
            for name, n in counts.most_common(top if title == "function" else 6):
                out.append(f"    {title:11} {n / t.samples:6.1%}  {name}")
    return "\n".join(out)


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print(summarize(parse(Path(arg).read_text())))
