"""The SQLite backup of docs/deploy.md, as written there: taken with the online backup API while
Grace serves and writes, restored by putting the file in place of ``grace.db``; the restored
server has every notification the backup holds, and a client resuming from a newer seq is told
of the gap."""

import asyncio
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from grace_chat.app import Grace
from grace_chat.config import Settings
from tests.support import Client, serve

DEPLOY = Path(__file__).resolve().parent.parent / "docs" / "deploy.md"


def backup_script() -> str:
    """The Python program docs/deploy.md feeds to ``python -`` between ``<<'PY'`` and ``PY``."""
    found = re.search(r"<<'PY'\n(.*?)\nPY\n", DEPLOY.read_text(), re.DOTALL)
    assert found, "docs/deploy.md shows no Python backup"
    return found.group(1)


async def test_an_online_backup_restores_the_log(tmp_path: Path) -> None:
    live = Settings(data_dir=tmp_path / "live", log_level="warning")
    copy = tmp_path / "grace-backup.db"
    async with serve(live, Grace(live, systems=())) as srv:
        kept = [await srv.grace.notify_user("ann", "task_completed", f"done {i}") for i in range(5)]
        writing = asyncio.gather(
            *(srv.grace.notify_user("bob", "info", f"b{i}") for i in range(50))
        )
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-", str(live.data_dir / "grace.db"), str(copy)],
            input=backup_script(),
            text=True,
            capture_output=True,
            timeout=60,
        )
        await writing
        assert done.returncode == 0, done.stderr
        later = await srv.grace.notify_user("ann", "task_completed", "after the backup")
    with sqlite3.connect(copy) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("SELECT count(*) FROM entries").fetchone()[0] >= len(kept)

    restored = Settings(data_dir=tmp_path / "restored", log_level="warning")
    restored.data_dir.mkdir(mode=0o700)
    shutil.copy(live.data_dir / "secret.key", restored.data_dir / "secret.key")
    shutil.copy(copy, restored.data_dir / "grace.db")
    async with serve(restored, Grace(restored, systems=())) as srv:
        page = await srv.grace.store.read_since("ann", 0, 100)
        assert [n.id for n in page] == [n.id for n in kept]
        async with Client.connect(srv, "ann", since=later.seq) as client:
            await client.expect("welcome")
            synced = await client.expect("synced")
            assert synced.get("gap") is True
