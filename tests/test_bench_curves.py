"""Each cost curve at tiny sizes (``--quick``), end to end, so it cannot rot: real servers on
loopback, real clients; its JSON and chart go to a temporary directory."""

from __future__ import annotations

import json
from pathlib import Path

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


def test_soak_curve_quick(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Three 5-second intervals per server: RSS and latency each interval, nothing lost."""
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
    assert all(r["log_bytes"] for r in series["grace"])


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
