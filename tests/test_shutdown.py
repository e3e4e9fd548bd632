"""How ``grace serve`` stops: every way it can (SIGTERM, SIGINT, SIGHUP, a second signal, an
exception while serving) ends the task processes, whole process groups, and records the tasks
``interrupted`` before the process exits. Real server processes, as in ``test_crash``."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests.support.grace_process import (
    SLEEPERS,
    GraceProcess,
    grace_serve,
    group_members,
    kill_group,
    process_group_of,
    start_task,
    stored_tasks,
    task_state,
    until,
    until_running,
    write_toml,
)

#: Ignores SIGTERM (the ignored disposition is inherited by the sleeps): only SIGKILL ends it.
STUBBORN = "[tasks.stubborn]\ncommand = \"trap '' TERM; sleep 300 & sleep 300 & wait\"\n"
STOPPED = ("interrupted", "the server stopped")


async def stop_and_check(
    server: GraceProcess, sig: int, shell_task: str, pgid: int, *others: str
) -> None:
    server.proc.send_signal(sig)
    code = await server.exited()
    assert group_members(pgid) == [], "the shell task's processes outlived the server"
    assert code == -sig, server.err
    stored = stored_tasks(server.data_dir)
    for task_id in (shell_task, *others):
        assert stored[task_id] == STOPPED, task_id


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGHUP])
async def test_sigint_and_sighup_stop_like_sigterm(tmp_path: Path, sig: int) -> None:
    data_dir = tmp_path / "data"
    write_toml(data_dir, SLEEPERS)
    pgid = 0
    try:
        async with grace_serve(data_dir) as server:
            task = await start_task(server, "sleepers")
            pgid = await process_group_of(task, size=3)
            await until_running(server, task)
            await stop_and_check(server, sig, task, pgid)
    finally:
        if pgid:
            kill_group(pgid)


async def test_a_second_signal_kills_the_task_processes_at_once(tmp_path: Path) -> None:
    """The group ignores SIGTERM; one signal would wait the grace period before SIGKILL, the
    second sends SIGKILL now. Either way the tasks are recorded before the process exits."""
    data_dir = tmp_path / "data"
    write_toml(data_dir, STUBBORN)
    pgid = 0
    try:
        async with grace_serve(data_dir, log_level="info") as server:
            task = await start_task(server, "stubborn")
            pgid = await process_group_of(task, size=3)
            await until_running(server, task)
            server.proc.send_signal(signal.SIGTERM)
            await until(
                lambda: any("SIGTERM received: stopping" in line for line in server.err),
                10,
                "the first signal to be taken",
            )
            started = time.monotonic()
            server.proc.send_signal(signal.SIGTERM)
            code = await server.exited()
            assert group_members(pgid) == []
            assert code == -signal.SIGTERM, server.err
            assert time.monotonic() - started < 2.0  # the grace period for SIGTERM is 2 s
            assert any("received again: stopping at once" in line for line in server.err)
            assert stored_tasks(data_dir)[task] == STOPPED
    finally:
        if pgid:
            kill_group(pgid)


async def test_one_signal_still_ends_a_group_that_ignores_sigterm(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    write_toml(data_dir, STUBBORN)
    pgid = 0
    try:
        async with grace_serve(data_dir) as server:
            task = await start_task(server, "stubborn")
            pgid = await process_group_of(task, size=3)
            await until_running(server, task)
            await stop_and_check(server, signal.SIGTERM, task, pgid)
    finally:
        if pgid:
            kill_group(pgid)


async def test_an_exception_while_serving_still_stops_the_tasks(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    write_toml(data_dir, SLEEPERS)
    fault = tmp_path / "fail-now"
    pgid = 0
    try:
        async with grace_serve(
            data_dir, python_tasks=True, env={"GRACE_TEST_FAULT": str(fault)}
        ) as server:
            shell_task = await start_task(server, "sleepers")
            python_task = await start_task(server, "py-wait")
            pgid = await process_group_of(shell_task, size=3)
            await until_running(server, python_task)
            fault.touch()
            code = await server.exited()
            assert group_members(pgid) == []
            assert code == 1
            assert any("injected fault" in line for line in server.err)
            stored = stored_tasks(data_dir)
            assert stored[shell_task] == STOPPED
            assert stored[python_task] == STOPPED
    finally:
        if pgid:
            kill_group(pgid)


async def test_paused_queued_and_threaded_tasks_are_stopped_and_recorded(tmp_path: Path) -> None:
    """A paused shell task (its group stopped with SIGSTOP), Python tasks in worker threads (one
    that reaches its checkpoints, one that never does) and a task still waiting for a slot: the
    processes end, and every task is recorded, before the exit, which nothing holds up."""
    data_dir = tmp_path / "data"
    write_toml(data_dir, SLEEPERS)
    pgid = 0
    try:
        async with grace_serve(
            data_dir, python_tasks=True, env={"GRACE_TASK_CONCURRENCY": "3"}
        ) as server:
            paused = await start_task(server, "sleepers")
            pgid = await process_group_of(paused, size=3)
            await until_running(server, paused)
            async with server.http() as http:
                response = await http.post(f"/api/tasks/{paused}/pause")
                assert response.status_code == 200, response.text
            assert (await task_state(server, paused))["state"] == "paused"
            threaded = await start_task(server, "py-wait-sync")
            stuck = await start_task(server, "py-stuck-sync")
            await until_running(server, threaded)
            await until_running(server, stuck)
            queued = await start_task(server, "sleepers")
            assert (await task_state(server, queued))["state"] == "queued"
            await stop_and_check(server, signal.SIGTERM, paused, pgid, threaded, stuck, queued)
    finally:
        if pgid:
            kill_group(pgid)
