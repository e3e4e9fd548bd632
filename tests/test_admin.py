"""The operator view's data, ``GET /api/admin/overview``, against a real server: an admin sees
every user's connections (per transport), unfinished tasks, pending approvals and the guardian's
incidents; nobody else sees any of it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from grace_chat.auth import Identity
from grace_chat.config import Settings
from tests.support import Client, Running, serve
from tests.support.sse import sse

TASKS = {"backup": {"command": "echo started; sleep 30"}}


async def closed_port() -> int:
    """A loopback port nobody listens on (a health check against it fails)."""
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port: int = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    return port


@pytest.fixture
async def admin_server(settings: Settings) -> AsyncIterator[Running]:
    check = {"name": "db", "tcp": f"127.0.0.1:{await closed_port()}", "timeout": 1}
    guardian = {"metrics": [], "checks": [check], "interval": 3600}
    async with serve(settings.with_(file={"tasks": TASKS, "guardian": guardian})) as srv:
        yield srv


async def overview(srv: Running, headers: dict[str, str]) -> tuple[int, Any]:
    async with srv.http() as http:
        response = await http.get("/api/admin/overview", headers=headers)
    return response.status_code, response.json()


async def until_overview(srv: Running, ready: Any, what: str) -> dict[str, Any]:
    """The overview once ``ready(body)`` holds, polled with a deadline."""
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        status, body = await overview(srv, srv.auth("ops", admin=True))
        assert status == 200, body
        if ready(body):
            return dict(body)
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_an_admin_sees_every_users_tasks_approvals_and_connections(
    admin_server: Running,
) -> None:
    srv = admin_server
    gateway = srv.grace.action_gateway
    async with Client.connect(srv, "ann") as ann, sse(srv, "bob") as bob:
        await ann.welcome()
        await bob.until_synced()
        ann_task = (await ann.command({"type": "start_task", "task_type": "backup"}))["task"]
        async with srv.http() as http:
            response = await http.post(
                "/api/tasks", json={"task_type": "backup"}, headers=srv.auth("bob")
            )
        assert response.status_code < 300, response.text
        asks = [
            await gateway.request_action("modify_file", "learning", {"f": u}, user_id=u)
            for u in ("ann", "bob")
        ]
        body = await until_overview(
            srv, lambda b: len(b["tasks"]) == 2 and b["incidents"], "two tasks and an incident"
        )
    assert body["connections"] == {"websocket": 1, "sse": 1}
    users = {u["user_id"]: u for u in body["users"]}
    assert users["ann"]["transports"] == {"websocket": 1}
    assert users["bob"] == {"user_id": "bob", "connections": 1, "transports": {"sse": 1}}
    assert {t["user_id"] for t in body["tasks"]} == {"ann", "bob"}
    assert ann_task["task_id"] in {t["task_id"] for t in body["tasks"]}
    assert all(t["state"] in {"queued", "running"} for t in body["tasks"])
    pending = {a["approval_id"]: a["user_id"] for a in body["approvals"]}
    assert pending == {asks[0]["approval_id"]: "ann", asks[1]["approval_id"]: "bob"}
    assert body["guardian"] is True
    (incident,) = body["incidents"]
    assert incident["check"] == "db" and incident["severity"] == "error"
    assert body["history"][0]["action"] == "error_detected"

    # a decided approval and a cancelled task leave the view; closed connections too
    await gateway.decide(asks[0]["approval_id"], Identity("ann"), approve=True)
    async with Client.connect(srv, "ann") as ann:
        await ann.welcome()
        await ann.command({"type": "cancel_task", "task_id": ann_task["task_id"]})
        body = await until_overview(
            srv,
            lambda b: len(b["tasks"]) == 1 and len(b["approvals"]) == 1,
            "the cancelled task and decided approval to leave",
        )
    assert body["tasks"][0]["user_id"] == "bob"
    assert body["approvals"][0]["user_id"] == "bob"


async def test_only_an_admin_token_opens_the_overview(server: Running) -> None:
    status, body = await overview(server, {})
    assert status == 401 and body["error"]["code"] == "unauthenticated"
    status, body = await overview(server, server.auth("ann"))
    assert status == 403 and body["error"]["code"] == "forbidden"
    assert "admin" in body["error"]["message"]
    status, body = await overview(server, {"Authorization": "Bearer not-a-token"})
    assert status == 401
    status, body = await overview(server, server.auth("ops", admin=True))
    assert status == 200
    assert body["users"] == [] and body["tasks"] == [] and body["approvals"] == []
    assert body["connections"] == {} and body["incidents"] == []


async def test_the_overview_is_in_the_openapi_document_under_admin(server: Running) -> None:
    async with server.http() as http:
        spec = (await http.get("/openapi.json")).json()
    operation = spec["paths"]["/api/admin/overview"]["get"]
    assert operation["tags"] == ["admin"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["$ref"].endswith("/Overview")
