"""Self-heal: the seed's error + healing sequence, retries, loop protection."""

from __future__ import annotations

import pytest

from grace_chat.config import Settings
from tests.support import Client, serve

pytestmark = pytest.mark.engines


async def test_failed_deployment_is_rolled_back_and_the_whole_sequence_arrives_in_order(
    settings: Settings,
) -> None:
    file = {
        "tasks": {
            "deployment": {
                "command": "echo deploying; echo Connection timeout; exit 1",
                "rollback": "echo restoring; echo Rolled back to version v2.0.5",
            }
        },
        "selfheal": {
            "playbooks": [
                {"name": "rollback_deployment", "task_type": "deployment", "strategy": "rollback"}
            ]
        },
    }
    async with (
        serve(settings.with_(file={**settings.file, **file})) as srv,
        Client.connect(srv, "user") as c,
    ):
        await c.welcome()
        await srv.grace.start_background_task("deployment", "user", task_id="deploy_456")
        frames = await c.until("healing_completed", 15, skip_progress=False)
        async with srv.http() as http:
            attempts = (await http.get("/api/healing", headers=srv.auth("user"))).json()
    assert [(f["badge"], f["message"]) for f in frames] == [
        ("🚀", "Deployment task started: deploy_456"),
        ("❌", "Deployment failed: exit code 1: Connection timeout"),
        ("🔧", "Auto-healing deployment failure (rollback strategy)"),
        ("✅", "Healing complete: Rolled back to version v2.0.5"),
    ]
    (attempt,) = attempts["attempts"]
    assert attempt["outcome"] == "succeeded" and attempt["trigger"] == "deploy_456"
    assert attempt["strategy"] == "rollback"


async def test_retry_playbook_reruns_the_task_and_loop_protection_stops_and_asks(
    settings: Settings,
) -> None:
    file = {
        "tasks": {"flaky": {"command": "echo nope; exit 2"}},
        "selfheal": {
            "max_attempts": 2,
            "window": 600,
            "playbooks": [
                {"name": "retry_flaky", "task_type": "flaky", "strategy": "retry", "backoff": 0.01}
            ],
        },
    }
    async with (
        serve(settings.with_(file={**settings.file, **file})) as srv,
        Client.connect(srv, "user") as c,
    ):
        await c.welcome()
        await srv.grace.start_background_task("flaky", "user", task_id="flaky_1")
        frames = await c.until("approval_needed", 20, skip_progress=False)
        async with srv.http() as http:
            attempts = (await http.get("/api/healing", headers=srv.auth("user"))).json()
    started = [f["data"]["task_id"] for f in frames if f["type"] == "task_started"]
    assert started == ["flaky_1", "flaky_1.retry1", "flaky_1.retry2"]
    outcomes = [a["outcome"] for a in reversed(attempts["attempts"])]
    assert outcomes == ["failed", "failed", "gave_up"]
    gave_up = next(f for f in frames if f["message"].startswith("Auto-healing stopped"))
    assert "2 attempts within 10 minutes" in gave_up["message"]
    assert frames[-1]["data"]["action_type"] == "continue_healing"


async def test_retry_that_succeeds_heals(settings: Settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    marker = tmp_path / "ran-once"
    file = {
        "tasks": {
            "sync": {
                "command": f"if [ -e {marker} ]; then echo ok; else touch {marker}; exit 1; fi"
            }
        },
        "selfheal": {"playbooks": [{"task_type": "sync", "strategy": "retry", "backoff": 0.01}]},
    }
    async with (
        serve(settings.with_(file={**settings.file, **file})) as srv,
        Client.connect(srv, "user") as c,
    ):
        await c.welcome()
        await srv.grace.start_background_task("sync", "user", task_id="sync_1")
        frames = await c.until("healing_completed", 15, skip_progress=False)
    assert frames[-1]["message"] == "Healing complete: retry 1 of sync_1 succeeded"


async def test_guardian_alert_triggers_the_restart_service_playbook(settings: Settings) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once closed
    file = {
        "guardian": {
            "interval": 0.2,
            "metrics": [],
            "notify": ["ops"],
            "checks": [{"name": "payments-api", "tcp": f"127.0.0.1:{port}", "timeout": 1}],
        },
        "selfheal": {
            "playbooks": [
                {
                    "name": "restart_payments",
                    "on": "error_detected",
                    "check": "payments-api",
                    "strategy": "restart_service",
                    "command": "echo restarting payments-api; echo payments-api restarted",
                }
            ]
        },
    }
    async with (
        serve(settings.with_(file={**settings.file, **file})) as srv,
        Client.connect(srv, "ops", since=0) as c,
    ):
        _, frames, _ = await c.welcome()  # what happened before this connection, then live
        if not any(f["type"] == "healing_completed" for f in frames):
            frames += await c.until("healing_completed", 15, skip_progress=False)
    assert [f["message"] for f in frames] == [
        "Health check payments-api failed: connection refused",
        "Auto-healing payments-api failure (restart_service strategy)",
        "Healing complete: payments-api restarted",
    ]
