"""``python -m bench.control`` at a tiny size, so it cannot rot (the full run is not a test):
two real ``grace serve`` processes on this machine's PostgreSQL and Redis, a few cancels on one
of tasks the other runs, at rest and under load, every figure printed."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

from tests.support.postgres import ADMIN_URL

REPO = Path(__file__).resolve().parent.parent
FIGURE = re.compile(r"p50 +[\d.]+ ms +p99 +[\d.]+ ms +max +[\d.]+ ms")


async def test_the_control_benchmark_runs_and_prints_its_figures(
    postgres_database: str, redis_url: str
) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.control",
        "--url",
        ADMIN_URL,
        "--redis-url",
        redis_url,
        "--rounds",
        "5",
        "--rate",
        "50",
        "--users",
        "3",
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    text = out.decode()
    assert proc.returncode == 0, text
    assert "at rest" in text and "under load" in text
    assert len(FIGURE.findall(text)) == 4, text
