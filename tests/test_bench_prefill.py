"""The benchmark's pre-fill: a real Grace server opens a pre-filled data directory as a log it
wrote itself (replays those entries from any ``seq``, appends after them)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import orjson
import pytest
from bench.prefill import DB_NAME, Fill, copy_fill, prefill
from bench.resume import resume
from bench.runner import Server

from grace_chat.store.backends.sqlite_notifications import SQLiteNotificationLog

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


def test_prefilled_log_is_grace_own(tmp_path: Path) -> None:
    fill = Fill(entries=3000, users=30, per_body=7, unread=4)
    figures = prefill(tmp_path / "fill", fill, log=False)
    assert figures["entries"] == 3000
    with sqlite3.connect(tmp_path / "fill" / DB_NAME) as conn:
        # per user: seq 1..n with no hole, bodies rising with seq, unread as user_log says
        rows = conn.execute(
            "SELECT e.user_id, COUNT(*), MIN(e.seq), MAX(e.seq), SUM(e.read = 0), l.last_seq, "
            "l.unread FROM entries e JOIN user_log l USING (user_id) GROUP BY e.user_id"
        ).fetchall()
        assert len(rows) == 30
        for _user, n, lo, hi, unread, last, counted in rows:
            assert (lo, hi, last) == (1, n, n)
            assert unread == counted == min(4, n)
        assert not conn.execute(
            "SELECT 1 FROM entries a JOIN entries b ON a.user_id = b.user_id "
            "AND b.seq = a.seq + 1 WHERE b.body <= a.body LIMIT 1"
        ).fetchone()
        # each body went to 7 users (the last group of 30 has 2), and is shared, not copied
        sharing = dict(conn.execute("SELECT body, COUNT(*) FROM entries GROUP BY body").fetchall())
        assert set(sharing.values()) <= {7, 2}
        assert conn.execute("SELECT COUNT(*) FROM bodies").fetchone()[0] == len(sharing)
        last_body = conn.execute("SELECT value FROM meta WHERE key = 'last_body'").fetchone()[0]
        assert int(last_body) == max(sharing)
        assert not conn.execute("SELECT 1 FROM bodies WHERE frame IS NULL LIMIT 1").fetchone()
    # each body's stored frame is the one its columns make, as a replay sends it
    asyncio.run(_frames_match(copy_fill(tmp_path / "fill", tmp_path / "check") / DB_NAME))

    server = Server("grace", data_dir=copy_fill(tmp_path / "fill", tmp_path / "run"))
    try:
        with sqlite3.connect(tmp_path / "fill" / DB_NAME) as conn:
            head = conn.execute("SELECT last_seq FROM user_log WHERE user_id = 'u3'").fetchone()[0]
        got = asyncio.run(resume(server.port, "u3", head - 25))
        assert got.ok and got.head == head and got.replayed == 25, got.errors
        # a new notification to every user lands right after each one's pre-filled history
        server.publish({"scenario": "burst", "users": 30, "count": 1, "k0": 0, "wait": True})
        after = asyncio.run(resume(server.port, "u3", head))
        assert after.ok and after.head == head + 1 and after.replayed == 1, after.errors
        everything = asyncio.run(resume(server.port, "u29", 0))
        assert everything.ok and everything.replayed == everything.head > 1
    finally:
        server.stop()


async def _frames_match(path: Path) -> None:
    log = SQLiteNotificationLog(path)
    await log.open()
    try:
        for user in ("u0", "u3", "u29"):
            stored = await log.read_since(user, 0, 1000)
            replayed = await log.replay(user, 0, 1000)
            assert stored and [orjson.loads(r.frame) for r in replayed] == [
                n.frame() for n in stored
            ]
    finally:
        await log.close()


def test_prefill_refuses_a_log_retention_would_prune(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="retention"):
        prefill(tmp_path, Fill(entries=50, users=2, per_body=1), retention=10, log=False)
