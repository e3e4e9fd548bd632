"""The commit-cost probe: real SQLite logs, real threads; its table and split add up."""

from __future__ import annotations

import re

import pytest
from bench import commit_cost

from grace_chat.notifications.model import Draft, Posted
from grace_chat.store.backends.sqlite_notifications import SQLiteNotificationLog


def test_steady_shape_prints_a_row_per_batch_and_the_split(
    capsys: pytest.CaptureFixture[str],
) -> None:
    commit_cost.main(["--count", "96", "--batches", "1,8", "--sync", "off", "--users", "20"])
    out = capsys.readouterr().out
    rows = re.findall(r"^\| OFF \| (\d+) \| ([\d.]+) \| ([\d.]+) \| (\d+) \|$", out, re.M)
    assert [int(r[0]) for r in rows] == [1, 8]
    one, eight = (float(r[1]) for r in rows)
    assert one > 0 and eight > 0
    # the split is the two rows solved for "per commit / batch + each" (not a timing claim)
    split = re.search(
        r"OFF: a commit costs (-?\d+) µs whatever it holds, each notification (-?[\d.]+) µs more",
        out,
    )
    assert split is not None
    fixed, each = int(split.group(1)), float(split.group(2))
    assert fixed == pytest.approx((one - eight) / (1 - 1 / 8), abs=1)
    assert fixed + each == pytest.approx(one, abs=0.7)  # printed rounded
    assert fixed / 8 + each == pytest.approx(eight, abs=0.2)
    hop = re.search(r"writer thread and back: ([\d.]+) µs of CPU as scheduled", out)
    assert hop is not None and float(hop.group(1)) > 0


def test_burst_shape_counts_entries(capsys: pytest.CaptureFixture[str]) -> None:
    commit_cost.main(["--shape", "burst", "--count", "8", "--batches", "2", "--users", "30"])
    out = capsys.readouterr().out
    assert "8 notifications to 30 users" in out
    assert re.search(r"^\| FULL \| 2 \| [\d.]+ \| [\d.]+ \| \d+ \|$", out, re.M)
    assert re.search(r"^\| OFF \| 2 \| [\d.]+ \| [\d.]+ \| \d+ \|$", out, re.M)
    assert "CPU µs/entry" in out


async def test_measure_writes_every_notification_it_times(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    written: list[int] = []
    append = SQLiteNotificationLog.append

    async def counted(self: SQLiteNotificationLog, drafts: list[Draft]) -> list[Posted]:
        posted = await append(self, drafts)
        written.append(sum(len(p.seqs) for p in posted))
        return posted

    monkeypatch.setattr(SQLiteNotificationLog, "append", counted)
    got = await commit_cost.measure("burst", 3, "OFF", 9, 10)
    # after the warm-up, 9 notifications x 10 users, stored in transactions of 3 notifications
    assert written[-3:] == [30, 30, 30]
    assert got["commits"] == 3 and got["cpu_us"] > 0
