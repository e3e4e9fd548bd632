"""The cost curves at tiny sizes (``--quick``), so they cannot rot: each runs end to end,
prints its table, writes its JSON and its chart, and finds nothing lost or duplicated."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def run_curve(name: str, out: Path, *args: str) -> tuple[str, dict[str, Any]]:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.curves", name, "--quick", "--out", str(out), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Machine:" in proc.stdout and "CURVE FAILED" not in proc.stdout
    assert (out / f"{name}.png").stat().st_size > 1000
    return proc.stdout, json.loads((out / f"{name}.json").read_text())


def test_connections_curve_measures_memory_and_latency_per_point(tmp_path: Path) -> None:
    out, data = run_curve("connections", tmp_path, "--servers", "grace,seed")
    assert "| Grace " in out and "| seed-style " in out and "KiB/conn" in out
    points = data["points"]
    assert {(p["server"], p["x"]) for p in points} == {
        (kind, n) for kind in ("grace", "seed") for n in (20, 60)
    }
    for p in points:
        assert p["reached"] and p["ok"] and p["lost"] == 0 and p["dups"] == 0
        # 200/s for 1 s, each to a user with two connections
        assert p["notifications"] == 200 and p["deliveries"] == 400
        assert p["rss_mib"] > p["rss_base_mib"] > 0 and p["latency_ms"]["p99"] > 0
        assert p["open_files_limit"] > 60


def test_users_curve_publishes_to_every_user_and_checks_the_connected(tmp_path: Path) -> None:
    out, data = run_curve("users", tmp_path, "--servers", "grace,seed")
    assert "| Grace " in out and "| seed-style " in out and "CPU µs/notif" in out
    for p in data["points"]:
        assert p["ok"] and p["connected"] == p["users"] == p["x"]
        assert p["deliveries"] == p["notifications"] == 200
        assert p["cpu_us_per_notification"] >= 0 and p["latency_ms"]["p99"] > 0


def test_reconnect_curve_replays_every_missed_notification_once(tmp_path: Path) -> None:
    out, data = run_curve("reconnect", tmp_path, "--servers", "grace,seed")
    assert "n/a: no resume" in out and "exactly once, in order" in out
    assert data["no_resume"] == ["seed"]
    assert [p["x"] for p in data["points"]] == [20, 60]
    for p in data["points"]:
        assert p["server"] == "grace" and p["ok"]
        assert p["replayed"] == p["clients"] * 10 and p["complete_s"] > 0
