"""Celery as an executor, and the events bridge: real Celery workers (RabbitMQ and Redis brokers,
Redis results), a real Grace server on loopback and a real WebSocket client."""

from __future__ import annotations

import asyncio
import contextlib
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from grace_chat.config import Settings
from grace_chat.errors import ConfigError
from grace_chat.tasks.types import TaskTypes
from tests.support import Client, Running, serve, until
from tests.support.celery import ENV, Worker, celery_worker, delete_queue, require_broker

GRACE = [sys.executable, "-m", "grace_chat.cli"]
BANNER = re.compile(r"Grace is running at (http://127\.0\.0\.1:\d+)/\?token=(\S+)")


@pytest.fixture(scope="module", params=["rabbitmq", "redis"])
def worker(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Worker]:
    broker = require_broker(request.param)
    with celery_worker(broker, tmp_path_factory.mktemp("celery")) as running:
        yield running


def celery_settings(tmp_path: Path, worker: Worker) -> Settings:
    def task(name: str, title: str) -> dict[str, Any]:
        return {"executor": "celery", "celery_task": name, "queue": worker.queue, "title": title}

    return Settings(
        data_dir=tmp_path / "data",
        sqlite_synchronous="NORMAL",
        cancel_grace_seconds=0.5,
        celery_broker_url=worker.broker,
        celery_result_backend=worker.backend,
        file={
            "guardian": {"metrics": []},
            "tasks": {
                "deploy": task("grace_tests.deploy", "Deployment"),
                "release": task("grace_tests.fail", "Release"),
                "hang": task("grace_tests.hang", "Long job"),
            },
        },
    )


@pytest.fixture
async def server(tmp_path: Path, worker: Worker) -> AsyncIterator[Running]:
    async with serve(celery_settings(tmp_path, worker)) as running:
        yield running


async def test_a_celery_task_reports_started_progress_and_its_result(
    server: Running, tmp_path: Path
) -> None:
    release = tmp_path / "release"
    async with Client.connect(server, "alice") as c:
        await c.welcome()
        params = {"version": "1.2", "release": str(release)}
        reply = await c.command({"type": "start_task", "task_type": "deploy", "params": params})
        task_id = reply["task"]["task_id"]
        (started,) = await c.until("task_started", 30)
        assert started["message"] == f"Deployment task started: {task_id}"
        (progress,) = await c.until("task_progress", 30, skip_progress=False)
        assert progress["data"]["progress"] == 0.5
        assert progress["data"]["note"] == "uploading 1.2"
        listing = await c.command({"type": "list_tasks"})
        (task,) = listing["tasks"]
        assert task["state"] == "running" and task["note"] == "uploading 1.2"

        release.write_text("go")
        (completed,) = await c.until("task_completed", 30)
        assert completed["message"] == "Deployment completed successfully"
        assert completed["data"]["result"] == {"status": "success", "version": "1.2"}
        logs = await c.command({"type": "task_logs", "task_id": task_id})
    lines = [entry["line"] for entry in logs["lines"]]
    assert lines[0].startswith("sent to Celery: grace_tests.deploy[grace-")


def test_progress_is_read_from_the_usual_meta_shapes() -> None:
    from grace_chat.tasks.executors.celery import progress_of

    assert progress_of({"progress": 0.4, "note": "half"}) == (0.4, "half")
    assert progress_of({"current": 9, "total": 10}) == (0.9, None)
    assert progress_of({"percent": 250}) == (1.0, None)
    for meta in ({"current": 1, "total": 0}, {"progress": "x"}, {"other": 1}, "text", None):
        assert progress_of(meta) is None


async def test_a_failing_celery_task_reports_its_error(server: Running) -> None:
    async with Client.connect(server, "alice") as c:
        await c.welcome()
        params = {"message": "disk full on /var"}
        reply = await c.command({"type": "start_task", "task_type": "release", "params": params})
        frames = await c.until("task_failed", 30)
        logs = await c.command({"type": "task_logs", "task_id": reply["task"]["task_id"]})
    assert [f["type"] for f in frames] == ["task_started", "task_failed"]
    assert frames[-1]["message"] == "Release failed: disk full on /var"
    assert frames[-1]["data"]["error"] == "disk full on /var"
    lines = [entry["line"] for entry in logs["lines"]]
    assert "error: ValueError: disk full on /var" in lines
    assert any("Traceback" in line for line in lines)


async def test_cancel_revokes_and_kills_a_task_that_ignores_sigterm(
    server: Running, worker: Worker, tmp_path: Path
) -> None:
    import psutil

    pidfile = tmp_path / "pid"
    async with Client.connect(server, "alice") as c:
        await c.welcome()
        params = {"pidfile": str(pidfile), "ignore_term": True}
        reply = await c.command({"type": "start_task", "task_type": "hang", "params": params})
        task_id = reply["task"]["task_id"]
        await c.until("task_started", 30)
        await until(pidfile.exists, 30, "the task to start in a pool process")
        pid = int(pidfile.read_text())
        assert pid in worker.children()

        for action in ("pause_task", "resume_task"):
            refused = await c.command({"type": action, "task_id": task_id})
            assert refused["type"] == "error" and refused["code"] == "conflict"
            assert "this executor cannot pause" in refused["message"]

        reply = await c.command({"type": "cancel_task", "task_id": task_id})
        assert reply["task"]["state"] == "cancelling"
        (cancelled,) = await c.until("task_cancelled", 30)
        assert cancelled["message"] == f"Task {task_id} has been cancelled"

        def gone() -> bool:
            try:
                return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
            except psutil.NoSuchProcess:
                return True

        await until(gone, 30, "SIGKILL to reach the task that ignores SIGTERM")
        logs = await c.command({"type": "task_logs", "task_id": task_id})
    lines = [entry["line"] for entry in logs["lines"]]
    assert "cancel: revoke sent to the Celery workers" in lines
    assert "cancel: terminate (SIGTERM) sent to the Celery workers" in lines
    record = await server.grace.tasks.wait(task_id, 5)
    assert record.state.value == "cancelled"


@pytest.mark.parametrize("progress", ["report", "plain"])
async def test_cancel_kills_a_task_that_reported_progress_before_grace_saw_it_start(
    server: Running, worker: Worker, tmp_path: Path, progress: str
) -> None:
    """The task replaces ``STARTED`` at once: with ``report_progress`` (which names its process)
    or with a bare ``update_state`` (the workers are asked which process runs it)."""
    import psutil

    pidfile = tmp_path / "pid"
    async with Client.connect(server, "alice") as c:
        await c.welcome()
        params = {"pidfile": str(pidfile), "ignore_term": True, "progress": progress}
        reply = await c.command({"type": "start_task", "task_type": "hang", "params": params})
        task_id = reply["task"]["task_id"]
        await c.until("task_started", 30)
        await until(pidfile.exists, 30, "the task to start in a pool process")
        pid = int(pidfile.read_text())
        assert pid in worker.children()

        reply = await c.command({"type": "cancel_task", "task_id": task_id})
        assert reply["task"]["state"] == "cancelling"

        def gone() -> bool:
            try:
                return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
            except psutil.NoSuchProcess:
                return True

        await until(gone, 30, "SIGKILL to reach the task that ignores SIGTERM")
        frames = await c.until("task_cancelled", 30)
        assert [f["type"] for f in frames].count("task_cancelled") == 1
        assert frames[-1]["data"]["task_id"] == task_id
        later: list[dict[str, Any]] = []
        with contextlib.suppress(TimeoutError):  # nothing more comes
            later = await c.notifications(1, 0.5)
        assert [f["type"] for f in later if f["type"] == "task_cancelled"] == []
    record = await server.grace.tasks.wait(task_id, 5)
    assert record.state.value == "cancelled"


async def test_a_task_revoked_on_the_celery_side_is_reported_cancelled(
    server: Running, tmp_path: Path
) -> None:
    pidfile = tmp_path / "pid"
    async with Client.connect(server, "alice") as c:
        await c.welcome()
        params = {"pidfile": str(pidfile)}
        reply = await c.command({"type": "start_task", "task_type": "hang", "params": params})
        task_id = reply["task"]["task_id"]
        await c.until("task_started", 30)
        await until(pidfile.exists, 30, "the task to start in a pool process")
        logs = await c.command({"type": "task_logs", "task_id": task_id})
        sent = logs["lines"][0]["line"]
        celery_id = sent[sent.index("[") + 1 : -1]
        celery = server.grace.tasks.executors["celery"]
        await asyncio.to_thread(
            celery.app.control.revoke,  # type: ignore[attr-defined]
            celery_id,
            terminate=True,
        )
        (cancelled,) = await c.until("task_cancelled", 30)
        assert cancelled["data"]["task_id"] == task_id
    record = await server.grace.tasks.wait(task_id, 5)
    assert record.state.value == "cancelled"


async def test_grace_stopping_leaves_the_celery_task_running_and_records_it_interrupted(
    tmp_path: Path, worker: Worker
) -> None:
    import psutil
    from celery import Celery

    settings = celery_settings(tmp_path, worker)
    pidfile = tmp_path / "pid"
    async with serve(settings) as server, Client.connect(server, "alice") as c:
        await c.welcome()
        params = {"pidfile": str(pidfile)}
        reply = await c.command({"type": "start_task", "task_type": "hang", "params": params})
        task_id = reply["task"]["task_id"]
        await c.until("task_started", 30)
        await until(pidfile.exists, 30, "the task to start in a pool process")
        logs = await c.command({"type": "task_logs", "task_id": task_id})
    pid = int(pidfile.read_text())
    sent = logs["lines"][0]["line"]
    app = Celery("cleanup", broker=worker.broker, set_as_current=False)
    try:
        assert psutil.Process(pid).status() != psutil.STATUS_ZOMBIE, "the work goes on"
        async with serve(settings) as server, Client.connect(server, "alice") as c:
            await c.welcome()
            listing = await c.command({"type": "list_tasks"})
        (task,) = listing["tasks"]
        assert task["task_id"] == task_id and task["state"] == "interrupted"
    finally:
        celery_id = sent[sent.index("[") + 1 : -1]
        await asyncio.to_thread(app.control.revoke, celery_id, terminate=True)
        await asyncio.to_thread(app.close)


async def test_cancel_of_a_task_no_worker_took_ends_it_queued(
    tmp_path: Path, worker: Worker
) -> None:
    nobody = f"{worker.queue}-nobody"
    settings = celery_settings(tmp_path, worker)
    tasks = dict(settings.file["tasks"])
    tasks["orphan"] = {"executor": "celery", "celery_task": "grace_tests.deploy", "queue": nobody}
    settings = settings.with_(file={**settings.file, "tasks": tasks})
    try:
        async with serve(settings) as server, Client.connect(server, "alice") as c:
            await c.welcome()
            params = {"version": "9", "release": str(tmp_path / "never")}
            reply = await c.command({"type": "start_task", "task_type": "orphan", "params": params})
            task_id = reply["task"]["task_id"]
            listing = await c.command({"type": "list_tasks"})
            assert listing["tasks"][0]["state"] == "queued"
            reply = await c.command({"type": "cancel_task", "task_id": task_id})
            assert reply["task"]["state"] == "queued", "queued until Celery confirms"
            frames = await c.until("task_cancelled", 30)
            assert [f["type"] for f in frames] == ["task_cancelled"], "it never started"
    finally:
        delete_queue(worker.broker, nobody)


async def test_an_unknown_celery_task_type_and_bad_configuration(tmp_path: Path) -> None:
    types = TaskTypes()
    with pytest.raises(ConfigError, match="needs a string 'celery_task'"):
        types.load_config({"x": {"executor": "celery"}})
    with pytest.raises(ConfigError, match="executor 'dask' is not one of"):
        types.load_config({"x": {"executor": "dask", "celery_task": "a.b"}})
    with pytest.raises(ConfigError, match="unknown keys: command"):
        types.load_config({"x": {"executor": "celery", "celery_task": "a.b", "command": "ls"}})
    settings = Settings(
        data_dir=tmp_path,
        file={"tasks": {"x": {"executor": "celery", "celery_task": "a.b"}}},
    )
    from grace_chat.app import Grace

    with pytest.raises(ConfigError, match="no broker is set"):
        Grace(settings, systems=False)
    with pytest.raises(ConfigError, match="need a result backend"):
        Grace(settings.with_(celery_broker_url="redis://127.0.0.1:6379/0"), systems=False)


def test_the_decorator_names_a_celery_task() -> None:
    types = TaskTypes()

    class FakeCeleryTask:
        name = "myapp.tasks.deploy"

    types.task_type("deploy", executor="celery", queue="deploys")(FakeCeleryTask())
    types.task_type("backup", executor="celery", celery_task="myapp.tasks.backup")(lambda: None)
    deploy, backup = types.get("deploy"), types.get("backup")
    assert (deploy.executor, deploy.target, deploy.queue) == (
        "celery",
        "myapp.tasks.deploy",
        "deploys",
    )
    assert (backup.target, backup.fn) == ("myapp.tasks.backup", None)
    assert types.executors() == {"celery"}
    with pytest.raises(ConfigError, match="name its celery_task"):
        types.task_type("nameless", executor="celery")(lambda: None)


# -- the bridge ---------------------------------------------------------------------------------


class Bridge:
    """``grace celery-events`` as a process, its URL and the secret its tokens are signed with."""

    def __init__(self, proc: subprocess.Popen[bytes], url: str, data_dir: Path) -> None:
        self.proc, self.url, self.data_dir = proc, url, data_dir

    def token(self, user: str) -> str:
        from grace_chat.auth import TokenAuthority

        secret = (self.data_dir / "secret.key").read_text().strip()
        return TokenAuthority(secret, 3600).issue(user)


@pytest.fixture
def bridge(worker: Worker, tmp_path: Path) -> Iterator[Bridge]:
    data_dir = tmp_path / "bridge"
    log = (tmp_path / "bridge.log").open("wb")
    proc = subprocess.Popen(
        [
            *GRACE,
            "celery-events",
            "--broker",
            worker.broker,
            "--port",
            "0",
            "--user",
            "ops",
            "--data-dir",
            str(data_dir),
            "--log-level",
            "info",
        ],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=log,
    )
    lines: queue.Queue[bytes] = queue.Queue()
    threading.Thread(
        target=lambda: [lines.put(raw) for raw in proc.stdout or ()], daemon=True
    ).start()
    try:
        deadline = time.monotonic() + 30
        while not (
            found := BANNER.search(
                lines.get(timeout=max(0.01, deadline - time.monotonic())).decode()
            )
        ):
            pass
        following = deadline
        while b"following the task events" not in (tmp_path / "bridge.log").read_bytes():
            assert time.monotonic() < following, (tmp_path / "bridge.log").read_text()
            time.sleep(0.02)
        yield Bridge(proc, found[1], data_dir)
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


async def test_the_bridge_shows_a_task_submitted_directly_to_celery(
    bridge: Bridge, worker: Worker, tmp_path: Path
) -> None:
    from celery import Celery

    release = tmp_path / "release"
    app = Celery("submitter", broker=worker.broker, set_as_current=False)
    running = Running(grace=None, url=bridge.url)  # type: ignore[arg-type]
    try:
        async with Client.connect(running, token=bridge.token("bob")) as bob:
            await bob.welcome()
            kwargs = {"release": str(release), "grace_user": "bob"}
            result = await asyncio.to_thread(
                app.send_task, "grace_tests.direct", kwargs=kwargs, queue=worker.queue
            )
            task_id = f"celery-{result.id}"
            (started,) = await bob.until("task_started", 30)
            assert started["data"]["task_id"] == task_id
            assert started["message"] == f"grace_tests.direct task started: {task_id}"
            (progress,) = await bob.until("task_progress", 30, skip_progress=False)
            assert progress["data"]["note"] == "outside Grace"
            listing = await bob.command({"type": "list_tasks"})
            (task,) = listing["tasks"]
            assert task["task_id"] == task_id and task["state"] == "running"
            assert task["params"]["kwargs"]["grace_user"] == "bob"

            release.write_text("go")
            (completed,) = await bob.until("task_completed", 30)
            assert completed["data"]["result"] == "done directly"
        async with Client.connect(running, token=bridge.token("carol")) as carol:
            await carol.welcome()
            headers = {"grace_user": "carol"}
            await asyncio.to_thread(
                app.send_task, "grace_tests.fail", ("hers",), headers=headers, queue=worker.queue
            )
            frames = await carol.until("task_failed", 30)
            failed = frames[-1]
            assert failed["message"] == "grace_tests.fail failed: hers"
        async with Client.connect(running, token=bridge.token("ops")) as ops:
            await ops.welcome()
            listing = await ops.command({"type": "list_tasks"})
            assert listing["tasks"] == [], "bob's and carol's tasks are not the default user's"
    finally:
        await asyncio.to_thread(app.close)


async def test_the_bridge_reports_failures_and_cancels_from_the_chat(
    bridge: Bridge, worker: Worker, tmp_path: Path
) -> None:
    import psutil
    from celery import Celery

    app = Celery("submitter", broker=worker.broker, set_as_current=False)
    running = Running(grace=None, url=bridge.url)  # type: ignore[arg-type]
    pidfile = tmp_path / "pid"
    try:
        async with Client.connect(running, token=bridge.token("ops")) as ops:
            await ops.welcome()
            failing = await asyncio.to_thread(
                app.send_task, "grace_tests.fail", ("no space left",), queue=worker.queue
            )
            frames = await ops.until("task_failed", 30)
            assert [f["type"] for f in frames] == ["task_started", "task_failed"]
            assert frames[-1]["data"]["task_id"] == f"celery-{failing.id}"
            assert frames[-1]["message"] == "grace_tests.fail failed: no space left"

            kwargs = {"pidfile": str(pidfile)}
            hanging = await asyncio.to_thread(
                app.send_task, "grace_tests.hang", kwargs=kwargs, queue=worker.queue
            )
            task_id = f"celery-{hanging.id}"
            await ops.until("task_started", 30)
            await until(pidfile.exists, 30, "the task to start in a pool process")
            pid = int(pidfile.read_text())
            refused = await ops.command({"type": "pause_task", "task_id": task_id})
            assert refused["type"] == "error" and refused["code"] == "conflict"
            reply = await ops.command({"type": "cancel_task", "task_id": task_id})
            assert reply["task"]["state"] == "cancelling"
            (cancelled,) = await ops.until("task_cancelled", 60)
            assert cancelled["data"]["task_id"] == task_id

            def gone() -> bool:
                try:
                    return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
                except psutil.NoSuchProcess:
                    return True

            await until(gone, 30, "the cancelled task's process to end")
    finally:
        await asyncio.to_thread(app.close)


def test_a_celery_task_type_without_celery_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from grace_chat.tasks.executors import build_executors

    monkeypatch.delitem(sys.modules, "grace_chat.tasks.executors.celery", raising=False)
    monkeypatch.setitem(sys.modules, "celery", None)
    with pytest.raises(ConfigError, match=r"pip install 'grace-chat\[celery\]'"):
        build_executors({"celery"}, celery_broker_url="redis://127.0.0.1:6379/0")


async def test_ready_checks_the_celery_broker_and_names_it_while_it_is_gone(
    tmp_path: Path,
) -> None:
    from tests.support.redis import REDIS_URL, Proxy

    broker = require_broker("rabbitmq")
    proxy = await Proxy(broker).start()
    try:
        settings = Settings(
            data_dir=tmp_path / "data",
            celery_broker_url=f"amqp://guest:guest@127.0.0.1:{proxy.port}//",
            celery_result_backend=REDIS_URL,
            file={"tasks": {"deploy": {"executor": "celery", "celery_task": "grace_tests.deploy"}}},
        )
        async with serve(settings) as srv, srv.http() as http:

            async def ready() -> tuple[int, Any]:
                answer = await http.get("/api/ready")
                return answer.status_code, answer.json()

            assert await ready() == (200, {"status": "ready"})
            await proxy.cut()
            status, body = await ready()
            assert status == 503, body
            assert body["error"]["code"] == "unavailable"
            message = body["error"]["message"]
            assert f"the Celery broker at amqp://127.0.0.1:{proxy.port} does not answer" in message
            assert "guest" not in message  # never the credentials
            assert (await http.get("/api/health")).status_code == 200  # the process still serves
            await proxy.restore()
            async with asyncio.timeout(15):  # ready again once the broker is back
                while True:
                    if (await ready())[0] == 200:
                        break
                    await asyncio.sleep(0.1)
    finally:
        await proxy.cut()
