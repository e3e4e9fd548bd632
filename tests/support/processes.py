"""Grace as real processes: the ``grace`` command line run as a child, and its output read."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

GRACE = [sys.executable, "-m", "grace_chat.cli"]
#: The children see no GRACE_* settings from the environment running the tests.
ENV = {k: v for k, v in os.environ.items() if not k.startswith("GRACE_")}
RUNNING = re.compile(r"Grace is running at (http://127\.0\.0\.1:(\d+))/\?token=(\S+)")


@dataclass
class Proc:
    proc: asyncio.subprocess.Process
    out: list[str] = field(default_factory=list)
    err: list[str] = field(default_factory=list)

    async def line(self, pattern: str, stream: str = "out", timeout: float = 20) -> re.Match[str]:
        """Wait for a line matching ``pattern`` (lines already read count too)."""
        lines = self.out if stream == "out" else self.err
        reader = self.proc.stdout if stream == "out" else self.proc.stderr
        assert reader is not None
        seen = 0
        async with asyncio.timeout(timeout):
            while True:
                for text in lines[seen:]:
                    if found := re.search(pattern, text):
                        return found
                seen = len(lines)
                raw = await reader.readline()
                if not raw:
                    raise AssertionError(f"process ended before printing {pattern!r}: {lines}")
                lines.append(raw.decode().rstrip("\n"))

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 15)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


@asynccontextmanager
async def grace(*args: str) -> AsyncIterator[Proc]:
    proc = await asyncio.create_subprocess_exec(
        *GRACE,
        *args,
        env=ENV,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    running = Proc(proc)
    try:
        yield running
    finally:
        await running.stop()


async def run(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *GRACE,
        *args,
        env=ENV,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()
