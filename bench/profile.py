"""``python -m bench.profile FILE...``: top functions of a py-spy ``--format raw`` profile.

Prints, per file, the share of samples each function is on top of the stack (self) and anywhere
on it (inclusive), ignoring the frames of idle event-loop waits.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path


def summarize(path: Path, top: int = 25) -> str:
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    samples = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        samples += n
        threads[frames[0]] += n
        funcs = [f.split(" (")[0] + " (" + f.rsplit("/", 1)[-1] for f in frames[1:]] or ["?"]
        own[funcs[-1]] += n
        for f in set(funcs):
            total[f] += n
    lines = [f"{path.name}: {samples} samples"]
    lines.append(
        "  threads: " + ", ".join(f"{t} {c / samples:.0%}" for t, c in threads.most_common())
    )
    lines.append("  self:")
    lines += [f"    {c / samples:6.1%}  {f}" for f, c in own.most_common(top)]
    lines.append("  inclusive:")
    lines += [f"    {c / samples:6.1%}  {f}" for f, c in total.most_common(top)]
    return "\n".join(lines)


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print(summarize(Path(arg)))
