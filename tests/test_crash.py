"""Crashes and stops of a real ``grace serve`` process, and what it leaves on disk.

The server runs as a child process on a free loopback port; the tests publish through the REST API,
kill or stop the process, start it again on the same data directory and check the log and the
tasks. Every wait polls with a deadline.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import stat
import time
from pathlib import Path

from tests.support.grace_process import (
    ROUNDS,
    SLEEPERS,
    USERS,
    Ack,
    GraceProcess,
    grace_serve,
    group_members,
    kill_group,
    mint,
    process_group_of,
    publish_until_killed,
    read_log,
    start_task,
    stored_tasks,
    task_state,
    until_running,
    write_toml,
)


async def test_every_acknowledged_notification_survives_kill_9_exactly_once(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    rng = random.Random(20240531)
    acked: list[Ack] = []
    unanswered = 0
    started = time.monotonic()
    for round_no in range(ROUNDS):
        async with grace_serve(data_dir) as server:
            admin = mint(data_dir, "publisher", admin=True)
            got, lost = await publish_until_killed(
                server, admin, round_no, target=rng.randrange(150, 400)
            )
            acked += got
            unanswered += lost

    async with grace_serve(data_dir) as server:
        logs = {user: await read_log(server, user) for user in USERS}
    elapsed = time.monotonic() - started

    found = 0
    for user, items in logs.items():
        seqs = [item["seq"] for item in items]
        assert seqs == list(range(1, len(items) + 1)), f"{user}'s seqs have a gap or a repeat"
        messages = [item["message"] for item in items]
        assert len(set(messages)) == len(messages), f"{user} has a notification twice"
        by_message = {item["message"]: item for item in items}
        mine = [ack for ack in acked if ack.user == user]
        for ack in mine:
            item = by_message.get(ack.message)
            assert item is not None, f"acknowledged {ack} is missing after the crash"
            assert (item["seq"], item["id"]) == (ack.seq, ack.id), (item, ack)
        # Besides the acknowledged ones, only requests the kill left unanswered may be there.
        assert len(items) - len(mine) <= unanswered
        found += len(items)
    assert len({(a.user, a.seq) for a in acked}) == len(acked)
    print(
        f"\nkill -9: {ROUNDS} rounds, {len(acked)} acknowledged, {found} in the log "
        f"({unanswered} requests unanswered at the kills), {elapsed:.1f}s"
    )


# -- (b) SIGTERM with running tasks ---------------------------------------------------------------


async def test_sigterm_ends_the_task_processes_and_records_them_interrupted(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    write_toml(data_dir, SLEEPERS)
    pgid = 0
    try:
        async with grace_serve(data_dir, python_tasks=True) as server:
            shell_task = await start_task(server, "sleepers")
            python_task = await start_task(server, "py-wait")
            pgid = await process_group_of(shell_task, size=3)
            await until_running(server, python_task)
            await until_running(server, shell_task)

            started = time.monotonic()
            server.proc.send_signal(signal.SIGTERM)
            code = await server.exited()
            stopped_in = time.monotonic() - started
            assert group_members(pgid) == [], "the shell task's processes outlived the server"
            assert code == -signal.SIGTERM, server.err
            assert stopped_in < 10

        # Recorded by the server as it stopped, not only by the next start:
        stored = stored_tasks(data_dir)
        assert stored[shell_task] == ("interrupted", "the server stopped")
        assert stored[python_task] == ("interrupted", "the server stopped")

        async with grace_serve(data_dir, python_tasks=True) as server:
            for task_id in (shell_task, python_task):
                assert (await task_state(server, task_id))["state"] == "interrupted"
            async with server.http() as http:
                items = (await http.get("/api/notifications", params={"limit": 100})).json()
            told = [n for n in items["items"] if n["type"] == "task_interrupted"]
            assert {n["data"]["task_id"] for n in told} == {shell_task, python_task}
    finally:
        if pgid:
            kill_group(pgid)


# -- data at rest ---------------------------------------------------------------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_the_data_directory_and_everything_in_it_are_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    async with grace_serve(data_dir) as server:
        admin = mint(data_dir, "publisher", admin=True)
        async with server.http(admin) as http:
            response = await http.post(
                "/api/notifications/publish",
                json={"user_id": "user", "type": "task_completed", "message": "stored"},
            )
            assert response.status_code == 201
        async with server.http() as http:
            # paused, learning keeps the upload in its inbox (it deletes it once learned)
            assert (await http.post("/api/learning/pause")).status_code == 200
            response = await http.post(
                "/api/learning/documents",
                files={"files": ("notes.md", b"# Notes\n\nPrivate words.\n", "text/markdown")},
            )
            assert response.status_code == 202, response.text
        wal = data_dir / "grace.db-wal"
        assert wal.exists() and (data_dir / "grace.db-shm").exists()
        uploads = [p for p in (data_dir / "learning" / "inbox").rglob("*") if p.is_file()]
        assert uploads, "the upload was not kept in the inbox"
        everything = [data_dir, *data_dir.rglob("*")]
        names = {p.name for p in everything}
        assert {"grace.db", "grace.db-wal", "grace.db-shm", "secret.key"} <= names
        loose = {
            str(p.relative_to(tmp_path)): oct(mode(p))
            for p in everything
            if mode(p) != (0o700 if p.is_dir() else 0o600)
        }
        assert loose == {}
        server.proc.send_signal(signal.SIGTERM)
        await server.exited()


async def test_an_existing_data_directory_is_made_private_on_start(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    async with grace_serve(data_dir) as server:
        server.proc.send_signal(signal.SIGTERM)
        await server.exited()
    inbox = data_dir / "learning" / "inbox" / "old"
    inbox.mkdir(parents=True)
    (inbox / "old.txt").write_text("uploaded by an older version")
    os.chmod(data_dir, 0o755)
    for path in data_dir.rglob("*"):
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    script = data_dir / "hook.sh"
    script.write_text("#!/bin/sh\n")
    os.chmod(script, 0o755)

    async with grace_serve(data_dir) as server:
        assert mode(data_dir) == 0o700
        for path in data_dir.rglob("*"):
            expected = 0o700 if path.is_dir() or path == script else 0o600
            assert mode(path) == expected, f"{path}: {oct(mode(path))}"
        server.proc.send_signal(signal.SIGTERM)
        await server.exited()


async def test_shell_tasks_write_files_with_the_umask_grace_was_started_with(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    written = tmp_path / "report.txt"
    write_toml(data_dir, '[tasks.report]\ncommand = "echo done > {path}"\n')
    async with grace_serve(data_dir, umask=0o022) as server:
        task = await start_task(server, "report", {"path": str(written)})
        await until_finished(server, task)
        assert mode(written) == 0o644  # as if the person had run the command
        assert mode(data_dir / "grace.db") == 0o600  # while Grace's own files stay private
        server.proc.send_signal(signal.SIGTERM)
        await server.exited()


async def until_finished(server: GraceProcess, task_id: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while (info := await task_state(server, task_id))["state"] != "succeeded":
        assert info["state"] in ("queued", "running"), info
        if time.monotonic() > deadline:
            raise AssertionError(f"task {task_id} did not finish")
        await asyncio.sleep(0.02)
