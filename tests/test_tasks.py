"""Background tasks: the seed's deployment flow, control from the chat, persistence."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from grace_chat import TaskContext, TaskFailed, start_background_task
from grace_chat.config import Settings
from grace_chat.tasks.model import TaskRecord, TaskState
from tests.support import Client, Frame, Running, serve, until

pytestmark = pytest.mark.engines


async def test_background_deployment_flow_of_the_seed(server: Running) -> None:
    release = asyncio.Event()

    async def deploy_backend(ctx: TaskContext) -> dict[str, str]:
        ctx.log("building image")
        ctx.progress(0.5, "uploading")
        await release.wait()
        await ctx.checkpoint()
        return {"status": "success"}

    async with Client.connect(server, "user") as c:
        await c.welcome()
        task_id = await start_background_task(
            task_id="task_deploy_123",
            task_type="deployment",
            task_fn=deploy_backend,
            user_id="user",
        )
        assert task_id == "task_deploy_123"
        (started,) = await c.until("task_started")
        assert started["badge"] == "🚀"
        assert started["message"] == "Deployment task started: task_deploy_123"
        assert started["data"]["task_id"] == "task_deploy_123"

        listing = await c.command({"type": "list_tasks"})
        assert listing["type"] == "task_list" and listing["active"] == 1
        (task,) = listing["tasks"]
        assert task["state"] == "running" and task["running_for"].endswith("s")
        assert task["progress"] == 0.5 and task["note"] == "uploading"

        release.set()
        (completed,) = await c.until("task_completed")
    assert completed["badge"] == "✅"
    assert completed["message"] == "Deployment completed successfully"
    assert completed["data"]["result"] == {"status": "success"}
    assert completed["data"]["duration_seconds"] >= 0
    logs = await server.grace.tasks.logs("task_deploy_123", _id("user"))
    assert [entry["line"] for entry in logs] == ["building image"]


async def test_a_failing_task_reports_its_error(server: Running) -> None:
    async def deploy() -> None:
        raise TaskFailed("Connection timeout")

    async with Client.connect(server, "user") as c:
        await c.welcome()
        await server.grace.start_background_task("deployment", "user", deploy, "deploy_456")
        frames = await c.until("task_failed")
    assert [f["type"] for f in frames] == ["task_started", "task_failed"]
    assert frames[-1]["message"] == "Deployment failed: Connection timeout"
    assert frames[-1]["badge"] == "❌" and frames[-1]["data"]["error"] == "Connection timeout"


async def test_pause_resume_and_cancel_a_python_task_at_its_checkpoints(server: Running) -> None:
    steps: list[int] = []

    async def backup(ctx: TaskContext) -> None:
        for i in range(10_000):
            steps.append(i)
            await ctx.checkpoint()
            await asyncio.sleep(0.01)

    async with Client.connect(server, "user") as c:
        await c.welcome()
        await server.grace.start_background_task("backup", "user", backup, "task_backup_789")
        await c.until("task_started")
        reply = await c.command({"type": "pause_task", "task_id": "task_backup_789"})
        assert reply["type"] == "task"
        (paused,) = await c.until("task_paused")
        assert paused["badge"] == "⏸️"
        count = len(steps)
        listing = await c.command({"type": "list_tasks"})
        assert listing["tasks"][0]["state"] == "paused"
        again = await c.command({"type": "pause_task", "task_id": "task_backup_789"})
        assert again["type"] == "error" and again["code"] == "conflict"
        assert len(steps) == count, "a paused task must not advance"

        await c.command({"type": "resume_task", "task_id": "task_backup_789"})
        await c.until("task_resumed")
        await until(lambda: len(steps) > count + 3, what="the task to advance after resume")

        reply = await c.command({"type": "cancel_task", "task_id": "task_backup_789"})
        assert reply["task"]["state"] in {"cancelling", "cancelled"}
        (cancelled,) = await c.until("task_cancelled")
    assert cancelled["message"] == "Task task_backup_789 has been cancelled"
    final = await server.grace.tasks.wait("task_backup_789", 5)
    assert final.state is TaskState.CANCELLED


def _proc_state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_shell_task_is_stopped_continued_and_killed_with_no_orphans(
    settings: Settings, tmp_path: Path
) -> None:
    pidfile = tmp_path / "pid"
    command = (
        f"echo $$ > {pidfile}; sleep 300 & "
        "for i in $(seq 1 100000); do echo tick $i; sleep 0.02; done"
    )
    file = {"tasks": {"backup": {"command": command}}}
    async with (
        serve(settings.with_(file={**settings.file, **file})) as srv,
        Client.connect(srv, "user") as c,
    ):
        await c.welcome()
        started = await c.command({"type": "start_task", "task_type": "backup"})
        task_id = started["task"]["task_id"]
        await c.until("task_started")
        await until(lambda: pidfile.exists() and pidfile.read_text().strip() != "", 15, what="pid")
        pid = int(pidfile.read_text())
        await c.command({"type": "pause_task", "task_id": task_id})
        await c.until("task_paused")
        await until(lambda: _proc_state(pid) == "T", what="the shell to be stopped", timeout=15)

        await c.command({"type": "resume_task", "task_id": task_id})
        await c.until("task_resumed")
        await until(
            lambda: _proc_state(pid) in {"S", "R"}, what="the shell to continue", timeout=15
        )
        logs = await c.command({"type": "task_logs", "task_id": task_id})
        assert logs["lines"] and logs["lines"][0]["line"] == "tick 1"

        await c.command({"type": "cancel_task", "task_id": task_id})
        await c.until("task_cancelled")
        await until(
            lambda: not _group_alive(pid), what="every process of the task to be gone", timeout=15
        )


async def test_failing_shell_task_reports_exit_code_and_last_line(settings: Settings) -> None:
    file = {
        "tasks": {"deployment": {"command": "echo connecting; echo Connection timeout >&2; exit 3"}}
    }
    async with (
        serve(settings.with_(file={**settings.file, **file})) as srv,
        Client.connect(srv, "user") as c,
    ):
        await c.welcome()
        await c.command({"type": "start_task", "task_type": "deployment"})
        frames = await c.until("task_failed")
    assert frames[-1]["message"] == "Deployment failed: exit code 3: Connection timeout"


async def test_shell_parameters_are_quoted_and_required(settings: Settings) -> None:
    file = {"tasks": {"greet": {"command": "echo hello {name}"}}}
    async with (
        serve(settings.with_(file={**settings.file, **file})) as srv,
        Client.connect(srv, "user") as c,
    ):
        await c.welcome()
        missing = await c.command({"type": "start_task", "task_type": "greet"})
        assert missing["code"] == "bad_request" and "name" in missing["message"]
        ok = await c.command(
            {"type": "start_task", "task_type": "greet", "params": {"name": "a; rm -rf /"}}
        )
        task_id = ok["task"]["task_id"]
        await c.until("task_completed")
        logs = await c.command({"type": "task_logs", "task_id": task_id})
    assert [line["line"] for line in logs["lines"]] == ["hello a; rm -rf /"]


async def test_commands_with_unknown_or_foreign_task_ids(server: Running) -> None:
    async def work(ctx: TaskContext) -> None:
        await asyncio.Event().wait()

    await server.grace.start_background_task("secret", "bob", work, "bobs_task")
    async with Client.connect(server, "ann") as c:
        await c.welcome()
        for kind in ("cancel_task", "pause_task", "resume_task", "task_logs"):
            foreign = await c.command({"type": kind, "task_id": "bobs_task"})
            assert (foreign["type"], foreign["code"]) == ("error", "forbidden")
            missing = await c.command({"type": kind, "task_id": "nope"})
            assert (missing["type"], missing["code"]) == ("error", "not_found")
        listing = await c.command({"type": "list_tasks"})
        assert listing["tasks"] == []
        unknown_type = await c.command({"type": "start_task", "task_type": "nope"})
        assert unknown_type["code"] == "not_found"
    record = await server.grace.tasks.get("bobs_task", _id("bob"))
    assert record.state is TaskState.RUNNING


async def test_illegal_transitions_answer_conflict(server: Running) -> None:
    async def quick() -> str:
        return "done"

    async with Client.connect(server, "ann") as c:
        await c.welcome()
        await server.grace.start_background_task("quick", "ann", quick, "q1")
        await c.until("task_completed")
        for kind in ("cancel_task", "pause_task", "resume_task"):
            reply = await c.command({"type": kind, "task_id": "q1"})
            assert (reply["type"], reply["code"]) == ("error", "conflict")
    with pytest.raises(Exception, match="cannot become"):
        TaskRecord("x", "u", "t", state=TaskState.SUCCEEDED).move(TaskState.RUNNING)


async def test_tasks_wait_queued_beyond_the_concurrency_limit(settings: Settings) -> None:
    gate = asyncio.Event()

    async def hold() -> None:
        await gate.wait()

    async with serve(settings.with_(task_concurrency=1)) as srv:
        await srv.grace.start_background_task("a", "ann", hold, "first")
        await srv.grace.start_background_task("b", "ann", hold, "second")
        second = await srv.grace.tasks.get("second", _id("ann"))
        assert second.state is TaskState.QUEUED
        cancelled = await srv.grace.tasks.cancel("second", _id("ann"))
        assert cancelled.state is TaskState.CANCELLED
        gate.set()
        assert (await srv.grace.tasks.wait("first", 5)).state is TaskState.SUCCEEDED


async def test_running_tasks_are_interrupted_by_a_restart_and_owners_told(
    settings: Settings,
) -> None:
    async def forever(ctx: TaskContext) -> None:
        await asyncio.Event().wait()

    async with serve(settings) as srv:
        await srv.grace.start_background_task("sync", "ann", forever, "long_job")
    # a task a crashed process left "running"
    async with serve(settings) as srv:
        await srv.grace.stores.tasks.save(
            TaskRecord("crashed_job", "ann", "sync", state=TaskState.RUNNING, started_at=1.0)
        )
    async with serve(settings) as srv:
        for task_id in ("long_job", "crashed_job"):
            record = await srv.grace.tasks.get(task_id, _id("ann"))
            assert record.state is TaskState.INTERRUPTED, task_id
        async with Client.connect(srv, "ann", since=0) as c:
            _, replay, _ = await c.welcome()
    interrupted = [f for f in replay if f["type"] == "task_interrupted"]
    assert {f["data"]["task_id"] for f in interrupted} == {"long_job", "crashed_job"}


async def test_progress_notifications_are_collapsed(server: Running) -> None:
    async def busy(ctx: TaskContext) -> None:
        for i in range(2001):
            ctx.progress(i / 2000)
            if i % 100 == 0:
                await asyncio.sleep(0)

    async with Client.connect(server, "ann") as c:
        await c.welcome()
        await server.grace.start_background_task("busy", "ann", busy, "busy1")
        seen: list[Frame] = []
        while True:
            (frame,) = await c.notifications(1)
            seen.append(frame)
            if frame["type"] == "task_completed":
                break
    progress = [f["data"]["progress"] for f in seen if f["type"] == "task_progress"]
    # 2,001 updates in well under the one-second interval: the first is reported at once, the
    # rest collapse into at most a couple more, each further along than the one before
    assert 1 <= len(progress) <= 3, f"{len(progress)} progress notifications for one fast task"
    assert progress == sorted(set(progress)) and progress[0] < 0.5


def _id(user: str, admin: bool = False):  # type: ignore[no-untyped-def]
    from grace_chat.auth import Identity

    return Identity(user, admin=admin)
