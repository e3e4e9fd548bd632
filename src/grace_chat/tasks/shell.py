"""Shell tasks: a command in its own process group, so pause, resume and cancel reach every
process it started (SIGSTOP / SIGCONT / SIGTERM, then SIGKILL after a grace period) and nothing is
left behind when it ends: not when it finishes, not when it is cancelled, and not when the server
stops under it (its job is cancelled: the group gets SIGTERM, then SIGKILL; if that wait is itself
cut short, SIGKILL at once)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from grace_chat.tasks.context import TaskCancelled, TaskFailed

#: The file-creation mask a shell task starts with; ``None``: the server's own. ``grace serve``
#: keeps its data private with umask 077 and sets this to the mask it was started with, so the
#: files a task writes are as readable as when the person runs the command themselves.
child_umask: int | None = None


class ShellProcess:
    def __init__(self, command: str, cwd: str | None, env: Mapping[str, str]) -> None:
        self.command = command
        self.cwd = cwd
        self.env = env
        self.proc: asyncio.subprocess.Process | None = None
        self.cancelled = False

    async def run(self, on_line: Callable[[str], None], timeout: float | None) -> dict[str, Any]:
        command = self.command
        if child_umask is not None:
            command = f"umask {child_umask:04o}\n{command}"
        self.proc = await asyncio.create_subprocess_shell(
            command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=self.cwd,
            env={**os.environ, **self.env},
            start_new_session=True,
        )
        tail: deque[str] = deque(maxlen=5)
        assert self.proc.stdout is not None
        stdout = self.proc.stdout

        async def pump() -> None:
            async for raw in stdout:
                line = raw.decode(errors="replace").rstrip("\r\n")
                tail.append(line)
                on_line(line)

        reader = asyncio.create_task(pump())
        try:
            async with asyncio.timeout(timeout):
                code = await self.proc.wait()
                self.reap()
                await reader
        except TimeoutError:
            await self.kill(grace=2.0)
            raise TaskFailed(f"timed out after {timeout:g}s") from None
        except asyncio.CancelledError:
            await self.kill(grace=2.0)
            raise
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        if self.cancelled:
            raise TaskCancelled
        last = next((line for line in reversed(tail) if line.strip()), "")
        if code != 0:
            detail = f": {last}" if last else ""
            if code < 0:
                raise TaskFailed(f"killed by signal {-code}{detail}")
            raise TaskFailed(f"exit code {code}{detail}")
        return {"status": "success", "exit_code": 0, "output": last}

    def signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, sig)

    def pause(self) -> None:
        self.signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.signal(signal.SIGCONT)

    async def terminate(self, grace: float) -> None:
        self.cancelled = True
        await self.kill(grace)

    async def kill(self, grace: float) -> None:
        """SIGTERM to the group (SIGCONT first, in case it is paused), SIGKILL after ``grace``
        seconds, and SIGKILL for what is left of the group in every case, also when this wait is
        cancelled (a second stop request, the event loop closing)."""
        proc = self.proc
        if proc is None:
            return
        try:
            if proc.returncode is None:
                self.signal(signal.SIGCONT)
                self.signal(signal.SIGTERM)
                try:
                    async with asyncio.timeout(grace):
                        await proc.wait()
                except TimeoutError:
                    self.signal(signal.SIGKILL)
                    await proc.wait()
        finally:
            self.reap()

    def reap(self) -> None:
        """Kill whatever the command left running in its process group."""
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
