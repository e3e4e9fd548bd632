"""What the guardian measures: host metrics (psutil) and the operator's health checks.

Every probe answers; none raises. A health check's failure reason is written for the person
("connection refused", "HTTP 503", "no answer within 2s").
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True, slots=True)
class Metrics:
    memory_percent: float
    disk_percent: float
    load_per_core: float

    def info(self) -> dict[str, Any]:
        return {
            "memory_percent": round(self.memory_percent, 1),
            "disk_percent": round(self.disk_percent, 1),
            "load_per_core": round(self.load_per_core, 2),
        }


def sample_metrics(disk_path: str) -> Metrics:
    """Memory in use (%), the disk holding ``disk_path`` (%), and the one-minute load average
    divided by the number of cores. Blocking: run it in a thread. Needs the ``guardian`` extra
    (psutil), imported here so that the rest of Grace runs without it."""
    import psutil

    memory = psutil.virtual_memory().percent
    disk = psutil.disk_usage(disk_path).percent
    cores = psutil.cpu_count() or 1
    load = psutil.getloadavg()[0] / cores
    return Metrics(float(memory), float(disk), float(load))


@dataclass(frozen=True, slots=True)
class CheckResult:
    ok: bool
    reason: str | None
    latency_ms: float
    checked_at: float


async def check_http(
    client: httpx.AsyncClient, url: str, timeout: float, expect: tuple[int, ...] | None
) -> tuple[bool, str | None]:
    try:
        response = await client.get(url, timeout=timeout)
    except httpx.TimeoutException:
        return False, f"no answer within {timeout:g}s"
    except httpx.HTTPError as exc:
        return False, _connect_reason(exc)
    status = response.status_code
    good = status in expect if expect else 200 <= status < 400
    return (True, None) if good else (False, f"HTTP {status}")


async def check_tcp(host: str, port: int, timeout: float) -> tuple[bool, str | None]:
    try:
        async with asyncio.timeout(timeout):
            _, writer = await asyncio.open_connection(host, port)
    except TimeoutError:
        return False, f"no answer within {timeout:g}s"
    except ConnectionRefusedError:
        return False, "connection refused"
    except OSError as exc:
        return False, (exc.strerror or str(exc) or exc.__class__.__name__).lower()
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True, None


async def timed(probe: Any) -> CheckResult:
    started = time.monotonic()
    ok, reason = await probe
    return CheckResult(ok, reason, round((time.monotonic() - started) * 1000, 1), time.time())


def _connect_reason(exc: BaseException) -> str:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError):
            return "connection refused"
        if isinstance(seen, OSError) and seen.strerror:
            return seen.strerror.lower()
        seen = seen.__cause__ or seen.__context__
    text = str(exc).strip()
    if "refused" in text.lower() or "errno 111" in text.lower():
        return "connection refused"
    return text.splitlines()[0][:200] if text else exc.__class__.__name__


def disk_default(data_dir: str) -> str:
    """The data directory if it exists yet, else the nearest existing parent."""
    path = os.path.abspath(data_dir)
    while not os.path.exists(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    return path
