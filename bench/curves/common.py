"""What every curve shares: where its figures go, the machine they were taken on, its chart."""

from __future__ import annotations

import json
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.report import header, machine

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "bench" / "results" / "curves"
CHARTS = REPO / "docs" / "curves"
#: One colour per server kind, the same in every chart.
COLORS = {
    "grace": "#2a9d8f",
    "seed": "#e9c46a",
    "socketio": "#e76f51",
    "node-socketio": "#8d5a97",
    "node-ws": "#457b9d",
}


def command() -> str:
    """The command line that made this run, as a person would type it."""
    return "python -m bench.curves " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def start_banner() -> dict[str, Any]:
    """Print the machine and package versions; returns them for the JSON record."""
    info = machine()
    print(header(info), flush=True)
    return info


def save(name: str, info: dict[str, Any], points: list[dict[str, Any]], **extra: Any) -> Path:
    """Write the curve's points, the machine and the command to ``RESULTS/NAME.json``."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {
        "curve": name,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": command(),
        "machine": info,
        "points": points,
        **extra,
    }
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


def line_chart(
    name: str,
    title: str,
    xlabel: str,
    panels: Sequence[tuple[str, dict[str, list[tuple[float, float]]]]],
    *,
    logx: bool = False,
    logy: bool = False,
) -> Path:
    """Draw ``docs/curves/NAME.png``: one panel per ``(ylabel, {series: [(x, y), ...]})``.

    A series named after a server kind takes that kind's colour; the command that made the run
    is printed under the chart.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.3), squeeze=False)
    for ax, (ylabel, series) in zip(axes[0], panels, strict=True):
        for label, xy in series.items():
            if not xy:
                continue
            xs, ys = zip(*sorted(xy), strict=True)
            kind = label.split(" ")[0]
            ax.plot(xs, ys, marker="o", label=label, color=COLORS.get(kind))
        if logx:
            ax.set_xscale("symlog" if any(x == 0 for s in series.values() for x, _ in s) else "log")
        if logy:
            ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.text(0.01, 0.01, command(), fontsize=7, family="monospace")
    fig.tight_layout(rect=(0, 0.04, 1, 0.95))
    CHARTS.mkdir(parents=True, exist_ok=True)
    path = CHARTS / f"{name}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
