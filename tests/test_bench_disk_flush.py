"""bench.disk_flush: timed writes and fdatasyncs of a real file, a row per interval."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench import disk_flush


def test_a_short_run_times_every_flush_and_prints_its_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "flush.json"
    code = disk_flush.main(
        [
            "--dir",
            str(tmp_path),
            "--rate",
            "40",
            "--seconds",
            "1",
            "--interval",
            "0.5",
            "--size",
            "4096",
            "--out",
            str(out),
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "| at s | flushes | p50 ms |" in printed and "worst flush" in printed
    rows = json.loads(out.read_text())["rows"]
    assert len(rows) == 2
    assert 30 <= sum(r["count"] for r in rows) <= 41  # 40 a second, paced, for one second
    for r in rows:
        assert 0 < r["ms"]["p50"] <= r["ms"]["max"]
        assert r["machine"]["canary"]["count"] > 0
    assert list(tmp_path.glob("disk-flush-*")) == []  # its file is gone


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["--rate", "0"], "must be positive"),
        (["--size", "-1"], "must be positive"),
        (["--dir", "/nonexistent/disk-flush"], "is not a directory"),
        (["--size", str(disk_flush.FILE_BYTES)], "--size must be at most"),
    ],
)
def test_bad_arguments_are_refused_with_a_reason(
    argv: list[str], reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        disk_flush.main(argv)
    assert exit_.value.code == 2
    assert reason in capsys.readouterr().err
