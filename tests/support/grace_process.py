"""A real ``grace serve`` process on a free loopback port: start it, publish through the REST API,
stop or kill it, look at its tasks' processes and at what it left on disk. Every wait polls with a
deadline."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sqlite3
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from grace_chat.auth import TokenAuthority, load_or_create_secret

#: The children see no GRACE_* settings from the environment running the tests.
ENV = {k: v for k, v in os.environ.items() if not k.startswith("GRACE_")}
BANNER = re.compile(r"Grace is running at (http://127\.0\.0\.1:\d+)/\?token=(\S+)")

#: ``grace serve`` with three Python task types besides the shell ones of grace.toml: the same
#: command line and ``run_server``, given the ``prepare`` hook ``grace demo`` uses for its own.
#: ``GRACE_TEST_FAULT=PATH`` makes the server's main loop raise once PATH exists (an exception
#: while serving).
SERVE_WITH_PYTHON_TASKS = """
import asyncio, os, sys, time
from pathlib import Path

from grace_chat.cli import main, server
from grace_chat.api.server import GraceServer
from grace_chat.tasks.types import TaskSpec


async def py_wait(ctx):
    while True:
        await ctx.checkpoint()
        await asyncio.sleep(0.05)


def py_wait_sync(ctx):
    while True:
        ctx.checkpoint_sync()
        time.sleep(0.05)


def py_stuck_sync(ctx):  # never reaches a checkpoint
    while True:
        time.sleep(0.05)


def prepare(grace):
    grace.tasks.types.add(TaskSpec("py-wait", fn=py_wait))
    grace.tasks.types.add(TaskSpec("py-wait-sync", fn=py_wait_sync))
    grace.tasks.types.add(TaskSpec("py-stuck-sync", fn=py_stuck_sync))


fault = os.environ.pop("GRACE_TEST_FAULT", None)
if fault:
    async def main_loop(self):
        while not Path(fault).exists():
            await asyncio.sleep(0.05)
        raise RuntimeError("injected fault in the server's main loop")

    GraceServer.main_loop = main_loop

serve = server.run_server
server.run_server = lambda settings, user, _prepare=None: serve(settings, user, prepare)
sys.exit(main(["serve", *sys.argv[1:]]))
"""


async def until(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``predicate`` until it returns something true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        await asyncio.sleep(0.02)
    return value


@dataclass
class GraceProcess:
    """A ``grace serve`` child process whose output is collected as it comes."""

    proc: asyncio.subprocess.Process
    data_dir: Path
    out: list[str] = field(default_factory=list)
    err: list[str] = field(default_factory=list)
    readers: list[asyncio.Task[None]] = field(default_factory=list)
    url: str = ""
    token: str = ""  # the banner's login token (for "user")

    @classmethod
    async def start(
        cls,
        data_dir: Path,
        *args: str,
        python_tasks: bool = False,
        env: dict[str, str] | None = None,
        log_level: str = "warning",
        umask: int = 0o022,
    ) -> GraceProcess:
        program = (
            ["-c", SERVE_WITH_PYTHON_TASKS] if python_tasks else ["-m", "grace_chat.cli", "serve"]
        )
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            *program,
            "--port",
            "0",
            "--data-dir",
            str(data_dir),
            "--log-level",
            log_level,
            *args,
            env={**ENV, **(env or {})},
            cwd=data_dir.parent,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            umask=umask,
        )
        running = cls(proc, data_dir)
        for stream, lines in ((proc.stdout, running.out), (proc.stderr, running.err)):
            assert stream is not None
            running.readers.append(asyncio.create_task(_collect(stream, lines)))
        try:
            found = await running.line(BANNER, timeout=30)
        except BaseException:
            await running.kill()
            raise
        running.url, running.token = found[1], found[2]
        return running

    async def line(self, pattern: re.Pattern[str], timeout: float = 10) -> re.Match[str]:
        def seen() -> re.Match[str] | None:
            if self.proc.returncode is not None and self.readers[0].done():
                raise AssertionError(f"server exited: {self.out} {self.err}")
            return next((m for text in self.out if (m := pattern.search(text))), None)

        found: re.Match[str] = await until(seen, timeout, f"a line matching {pattern.pattern}")
        return found

    async def exited(self, timeout: float = 20) -> int:
        """Wait for the process to end; its return code (``-N``: ended by signal N)."""
        try:
            code = await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            raise AssertionError(f"server still running after {timeout:g}s: {self.err}") from None
        await asyncio.wait_for(asyncio.gather(*self.readers), 10)
        return code

    async def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        for reader in self.readers:
            reader.cancel()

    def http(self, token: str | None = None) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.url,
            headers={"Authorization": f"Bearer {token or self.token}"},
            timeout=10,
        )


async def _collect(stream: asyncio.StreamReader, lines: list[str]) -> None:
    while raw := await stream.readline():
        lines.append(raw.decode(errors="replace").rstrip("\n"))


@asynccontextmanager
async def grace_serve(data_dir: Path, *args: str, **kwargs: Any) -> AsyncIterator[GraceProcess]:
    server = await GraceProcess.start(data_dir, *args, **kwargs)
    try:
        yield server
    finally:
        await server.kill()


def mint(data_dir: Path, user: str, *, admin: bool = False) -> str:
    return TokenAuthority(load_or_create_secret(data_dir), 3600).issue(user, admin=admin)


def write_toml(data_dir: Path, text: str) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "grace.toml").write_text(text)


# -- tasks and their processes ------------------------------------------------------------------

#: Three processes in one group: the shell and two ``sleep 300``.
SLEEPERS = '[tasks.sleepers]\ncommand = "sleep 300 & sleep 300 & wait"\n'


async def start_task(
    server: GraceProcess, task_type: str, params: dict[str, Any] | None = None
) -> str:
    async with server.http() as http:
        response = await http.post(
            "/api/tasks", json={"task_type": task_type, "params": params or {}}
        )
    assert response.status_code == 201, response.text
    task_id: str = response.json()["task_id"]
    return task_id


async def task_state(server: GraceProcess, task_id: str) -> dict[str, Any]:
    async with server.http() as http:
        response = await http.get(f"/api/tasks/{task_id}")
    assert response.status_code == 200, response.text
    info: dict[str, Any] = response.json()
    return info


async def until_running(server: GraceProcess, task_id: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while (await task_state(server, task_id))["state"] != "running":
        if time.monotonic() > deadline:
            raise AssertionError(f"task {task_id} did not start running")
        await asyncio.sleep(0.02)


def task_processes(task_id: str) -> list[psutil.Process]:
    """The live processes a shell task started (its environment names the task)."""
    found = []
    for proc in psutil.process_iter():
        with suppress(psutil.Error):
            if proc.environ().get("GRACE_TASK_ID") == task_id and _alive(proc):
                found.append(proc)
    return found


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE  # a zombie has ended; only its status is left
    except psutil.NoSuchProcess:
        return False


async def process_group_of(task_id: str, size: int, timeout: float = 10) -> int:
    """The process group of a running shell task, once ``size`` of its processes are up."""
    procs = await until(
        lambda: (found := task_processes(task_id)) and len(found) >= size and found,
        timeout,
        f"{size} processes of task {task_id}",
    )
    groups = {os.getpgid(p.pid) for p in procs}
    assert len(groups) == 1, f"task {task_id} spans process groups {groups}"
    (group,) = groups
    return group


def group_members(pgid: int) -> list[psutil.Process]:
    members = []
    for proc in psutil.process_iter():
        with suppress(psutil.Error, OSError):
            if os.getpgid(proc.pid) == pgid and _alive(proc):
                members.append(proc)
    return members


def kill_group(pgid: int) -> None:
    """Clean up after a test that failed with processes left over."""
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def stored_tasks(data_dir: Path) -> dict[str, tuple[str, str | None]]:
    """``task_id → (state, error)`` straight from the database file (no server running)."""
    conn = sqlite3.connect(data_dir / "grace.db")
    try:
        rows = conn.execute("SELECT task_id, state, error FROM tasks").fetchall()
    finally:
        conn.close()
    return {task_id: (state, error) for task_id, state, error in rows}


# -- (a) kill -9 during a publish stream --------------------------------------------------------

USERS = ("alice", "bob", "carol")
PUBLISHERS = 12
ROUNDS = 5


@dataclass(frozen=True)
class Ack:
    user: str
    seq: int
    id: str
    message: str


async def publish_until_killed(
    server: GraceProcess, admin: str, round_no: int, target: int
) -> tuple[list[Ack], int]:
    """Publish from concurrent clients; SIGKILL the server once ``target`` were acknowledged.
    Returns the acknowledged notifications and how many requests got no answer."""
    acks: list[Ack] = []
    unanswered = 0

    async def publisher(n: int) -> None:
        nonlocal unanswered
        async with server.http(admin) as http:
            for k in range(1_000_000):
                user = USERS[(n + k) % len(USERS)]
                message = f"round {round_no} publisher {n} #{k}"
                body = {"user_id": user, "type": "task_completed", "message": message}
                try:
                    response = await http.post("/api/notifications/publish", json=body)
                except httpx.HTTPError:
                    unanswered += 1  # the server died under this request
                    return
                assert response.status_code == 201, response.text
                frame = response.json()
                assert frame["message"] == message
                acks.append(Ack(user, frame["seq"], frame["id"], message))

    started = time.monotonic()
    publishers = [asyncio.create_task(publisher(n)) for n in range(PUBLISHERS)]
    try:
        await until(lambda: len(acks) >= target, 60, f"{target} acknowledged notifications")
        server.proc.send_signal(signal.SIGKILL)
        assert await server.exited() == -signal.SIGKILL
        await asyncio.wait_for(asyncio.gather(*publishers), 20)
    finally:
        for task in publishers:
            task.cancel()
    assert time.monotonic() - started < 60
    return acks, unanswered


async def read_log(server: GraceProcess, user: str) -> list[dict[str, Any]]:
    """Every notification in ``user``'s log, oldest first."""
    items: list[dict[str, Any]] = []
    async with server.http(mint(server.data_dir, user)) as http:
        since = 0
        while True:
            response = await http.get("/api/notifications", params={"since": since, "limit": 1000})
            assert response.status_code == 200, response.text
            page = response.json()
            items += page["items"]
            if not page["has_more"]:
                return items
            since = items[-1]["seq"]
