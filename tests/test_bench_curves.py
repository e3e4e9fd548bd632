"""Each cost curve at tiny sizes (``--quick``), end to end, so it cannot rot: real servers on
loopback, real clients; each prints its table, writes its JSON and its chart (to a temporary
directory) and finds nothing lost or duplicated."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from bench.curves import __main__ as curves
from bench.curves import common


@pytest.fixture
def out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(common, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(common, "CHARTS", tmp_path / "charts")
    return tmp_path


def _saved(out: Path, name: str) -> dict[str, object]:
    assert (out / "charts" / f"{name}.png").stat().st_size > 1000
    record: dict[str, object] = json.loads((out / "results" / f"{name}.json").read_text())
    assert record["ok"] is True
    return record


def test_logsize_curve_quick(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = curves.main(["logsize", "--quick", "--cache-dir", str(out / "cache")])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "| entries in the log | Grace CPU µs/deliv |" in printed
    points = _saved(out, "logsize")["points"]
    assert isinstance(points, list)
    seen = {(p["server"], p["scenario"], p["entries"]) for p in points}
    assert seen == {
        ("grace", "burst", 0),
        ("grace", "storm", 0),
        ("grace", "burst", 20_000),
        ("grace", "storm", 20_000),
        ("seed", "burst", 0),
        ("seed", "storm", 0),
    }
    for p in points:
        assert all(r["ok"] and r["deliveries"] > 0 for r in p["runs"])


def test_startup_curve_quick(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = curves.main(["startup", "--quick", "--cache-dir", str(out / "cache")])
    printed = capsys.readouterr().out
    assert code == 0, printed
    points = _saved(out, "startup")["points"]
    assert isinstance(points, list)
    assert [p["entries"] for p in points] == [0, 20_000]
    for p in points:
        assert 0 < p["listening_s"] < p["served_s"] and p["rss_mib"] > 0
    # the pre-filled log's client got exactly its 10 missed notifications
    assert points[1]["runs"][0]["replayed"] == 10


def test_replay_curve_quick(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = curves.main(["replay", "--quick", "--cache-dir", str(out / "cache")])
    printed = capsys.readouterr().out
    assert code == 0, printed
    points = _saved(out, "replay")["points"]
    assert isinstance(points, list)
    assert {(p["clients"], p["depth"]) for p in points} == {
        (c, d) for c in (1, 10) for d in (10, 100, 1000)
    }
    assert all(r["ok"] for p in points for r in p["runs"])


def test_soak_curve_quick(
    out: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three 5-second intervals per server: RSS and latency each interval, nothing lost."""
    monkeypatch.setenv("GRACE_SQLITE_COMMIT_WINDOW_MS", "4")  # the default, said out loud
    monkeypatch.setenv("GRACE_SECRET", "not-for-the-record-" * 3)
    code = curves.main(["soak", "--quick", "--minutes", "0.25", "--interval", "5"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "| server | minutes | deliveries | RSS first MiB |" in printed
    assert "| Grace |" in printed and "| seed-style |" in printed
    record = _saved(out, "soak")
    series = {s["server"]: s["rows"] for s in record["series"]}  # type: ignore[attr-defined]
    assert set(series) == {"grace", "seed"}
    for rows in series.values():
        assert len(rows) == 3
        for row in rows:
            assert row["deliveries"] == 100 * 5 * 2  # 100/s x 5 s, two connections per user
            assert row["lost"] == row["dups"] == row["errors"] == 0
            assert row["rss_mib"] > 10 and row["latency_ms"]["p99"] > 0
    assert all(r["stalls"]["loop_lag"]["count"] > 0 for r in series["grace"])
    assert all(r["stalls"]["writer_wall"]["count"] > 0 for r in series["grace"])
    for rows in series.values():  # the machine beside each interval: the canary ticked
        assert all(r["machine"]["canary"]["count"] > 100 for r in rows)
    assert "machine: canary max" in printed and "writes: max" in printed
    assert all(r["log_bytes"] for r in series["grace"])
    environment = record["settings"]["environment"]  # type: ignore[index]
    assert environment["GRACE_SQLITE_COMMIT_WINDOW_MS"] == "4"
    assert environment["GRACE_SECRET"] == "(set)"  # recorded by name only


def test_deflate_curve_quick(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Each server with permessage-deflate off and on, negotiated only when on; compressed
    frames are fewer bytes on the wire."""
    code = curves.main(["deflate", "--quick"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "| server | deflate | negotiated |" in printed
    points = _saved(out, "deflate")["points"]
    assert isinstance(points, list)
    got = {(p["server"], p["deflate"]): p for p in points}
    assert set(got) == {("grace", False), ("grace", True), ("seed", False), ("seed", True)}
    for (server, on), p in got.items():
        assert p["deliveries"] == 200 * 2 and p["lost"] == p["dups"] == p["errors"] == 0
        assert p["negotiated"] == (20 if on else 0)
        if on:
            assert p["bytes_per_delivery"] < got[(server, False)]["bytes_per_delivery"]


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


def test_soak_pause_stops_the_server_and_nothing_is_lost(
    out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--pause``: the server stopped for 0.6 s in the middle of the second and third interval;
    its own loop saw the stall (the machine's canary did not), every notification still arrives
    once."""
    argv = ["soak", "--quick", "--servers", "grace", "--minutes", "0.25", "--interval", "5"]
    code = curves.main([*argv, "--pause", "0.6"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "paused: the server was stopped for 0.6 s" in printed
    rows = _saved(out, "soak")["series"][0]["rows"]  # type: ignore[index]
    assert [r["paused_s"] for r in rows] == [0.0, 0.6, 0.6]
    for row in rows:
        assert row["lost"] == row["dups"] == row["errors"] == 0
    assert rows[0]["stalls"]["loop_lag"]["max_ms"] < 500
    assert all(r["stalls"]["loop_lag"]["max_ms"] >= 500 for r in rows[1:])
    assert all(r["machine"]["canary"]["max_ms"] < 500 for r in rows)  # the machine did not stall


def test_soak_refuses_a_pause_longer_than_half_an_interval(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert curves.main(["soak", "--quick", "--interval", "5", "--pause", "3"]) == 2
    assert "--pause must be" in capsys.readouterr().err
