"""Every ```python block of README.md and docs/embedding.md runs as written.

The blocks of one file run in order in one namespace, in a fresh working directory (their
``data_dir=".grace"`` lands there), top-level ``await`` allowed. A block that defines an ASGI
``app`` serves something: the app is then served by uvicorn on loopback, with its lifespan, and
every GET path of its own OpenAPI document without parameters must answer without a server error,
and a Grace mounted in it must answer its health check under its prefix.
"""

import ast
import asyncio
import inspect
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from starlette.routing import Mount

from grace_chat.api.server import base_url, listen
from tests.support import until

ROOT = Path(__file__).resolve().parent.parent
DOCS = ("README.md", "docs/embedding.md")
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def blocks(name: str) -> list[str]:
    return BLOCK.findall((ROOT / name).read_text())


async def run_block(source: str, namespace: dict[str, Any], label: str) -> None:
    code = compile(source, label, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    result = eval(code, namespace)  # the project's own documentation
    if inspect.isawaitable(result):
        await result


async def check_served(app: FastAPI) -> list[str]:
    """Serve ``app`` and ask it what its blocks promise; returns the paths asked."""
    sock = listen("127.0.0.1", 0)
    url = base_url("127.0.0.1", sock.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    asked = []
    try:
        await until(lambda: server.started or task.done(), 10, "server start")
        if task.done():
            task.result()
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            for path, item in app.openapi()["paths"].items():
                if "get" in item and "{" not in path:
                    response = await http.get(path)
                    assert response.status_code < 500, (path, response.text)
                    asked.append(path)
            for route in app.routes:
                if isinstance(route, Mount) and route.name == "grace":
                    health = await http.get(f"{route.path}/api/health")
                    assert health.status_code == 200 and health.json()["status"] == "ok"
                    asked.append(f"{route.path}/api/health")
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)
    return asked


@pytest.mark.parametrize("name", DOCS)
async def test_the_python_blocks_run_as_written(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = blocks(name)
    assert found, f"{name} has no python block"
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {"__name__": "__docs__"}
    served = []
    for number, source in enumerate(found, 1):
        app_before = namespace.get("app")
        await run_block(source, namespace, f"{name} block {number}")
        app = namespace.get("app")
        if isinstance(app, FastAPI) and app is not app_before:
            served.append(await check_served(app))
    # each file's embedding example was served: the host's own health and Grace's under /grace
    assert any({"/api/health", "/grace/api/health"} <= set(paths) for paths in served), served
