"""``grace demo``: every system wired, and a scripted scenario a newcomer can watch in the chat.

Once the demo user opens the chat, Grace: starts a deployment that fails and is rolled back by
self-heal (❌ → 🔧 → ✅ "Healing complete: Rolled back to version v2.0.5"); ingests a document
(🧠); asks for approval to modify config.yaml (⚠️ with Approve / Reject); raises a guardian alert
for a health check whose service is down; and runs a two-step mission. Everything is real: shell
tasks, the rollback command, the health check's TCP connection, the knowledge index.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import sys
from collections.abc import Awaitable, Callable
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grace_chat.config import Settings

if TYPE_CHECKING:
    from grace_chat.app import Grace

log = logging.getLogger("grace_chat.demo")
PY = sys.executable


def demo_service() -> socket.socket:
    """The "payments-api" the guardian watches: a listening socket (the kernel completes TCP
    connections from its backlog), up until the scenario closes it."""
    service = socket.socket()
    service.bind(("127.0.0.1", 0))
    service.listen(64)
    return service


def demo_settings(base: Settings, service: socket.socket) -> Settings:
    """The demo's grace.toml, in code: task types, the rollback playbook, a mission, a check."""
    port = service.getsockname()[1]
    file: dict[str, Any] = {
        "tasks": {
            "deployment": {
                "command": "echo Connecting to cluster...; sleep 2; "
                "echo Connection timeout; exit 1",
                "rollback": "echo Restoring previous release...; sleep 1; "
                "echo Rolled back to version v2.0.5",
                "title": "Deployment",
            },
            "build": {"command": "echo Compiling...; sleep 2; echo Build ok", "title": "Build"},
            "smoke_test": {
                "command": "for i in 1 2 3; do echo check $i passed; sleep 1; done",
                "title": "Smoke test",
            },
            "backup": {
                "command": "for i in $(seq 1 120); do echo copied chunk $i; sleep 1; done",
                "title": "Backup",
            },
        },
        "selfheal": {
            "playbooks": [
                {"name": "rollback_deployment", "task_type": "deployment", "strategy": "rollback"}
            ]
        },
        "missions": {"release": {"steps": [{"task_type": "build"}, {"task_type": "smoke_test"}]}},
        "guardian": {
            "interval": 2,
            "notify": [base.default_user],
            "metrics": ["memory", "disk"],
            "checks": [{"name": "payments-api", "tcp": f"127.0.0.1:{port}"}],
        },
        **{k: v for k, v in base.file.items() if k not in ("tasks", "selfheal", "missions")},
    }
    return replace(base, file=file)


class DemoScenario:
    name = "demo"

    def __init__(self, grace: Grace, service: socket.socket, pace: float = 1.0) -> None:
        self.grace = grace
        self.pace = pace
        self._job: asyncio.Task[None] | None = None
        self._service = service

    async def _pause(self, seconds: float) -> None:
        """Narrative pacing between the scenario's scenes."""
        await asyncio.sleep(seconds * self.pace)

    async def start(self) -> None:
        self._job = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        self._service.close()
        if self._job is not None:
            self._job.cancel()
            await asyncio.gather(self._job, return_exceptions=True)

    async def _run(self) -> None:
        grace, user = self.grace, self.grace.settings.default_user
        await grace.hub.wait_online(user)  # start when someone is watching
        await self._pause(2)
        try:
            await grace.notify_user(user, "test", "Welcome to the Grace demo 👋 — watch this chat.")
            # a demo run again on the same data directory gets fresh ids: deploy_456_2, …
            deploy = await self._fresh("deploy_456", grace.stores.tasks.get)
            await grace.start_background_task("deployment", user, task_id=deploy)
            await self._pause(8)
            await self._learn(user)
            await self._pause(3)
            await grace.action_gateway.request_action(
                action_type="modify_file",
                agent="learning_supervisor",
                params={"file_path": "config.yaml", "change": "raise chunk_size to 1200"},
                trace_id="auto_learn_123",
                user_id=user,
            )
            await self._pause(3)
            self._service.close()  # the payments-api goes down; the guardian notices
            await self._pause(3)
            if grace.missions is not None:
                mission = await self._fresh("mission_123", grace.stores.missions.get)
                await grace.missions.start_mission(user, "release", mission_id=mission)
            await self._pause(8)
            backup = await self._fresh("task_backup_789", grace.stores.tasks.get)
            await grace.start_background_task("backup", user, task_id=backup)
            await grace.notify_user(
                user, "test",
                f"Try typing: “Show background tasks”, “Pause task {backup}”, "
                "“What's Grace doing?”, “Show healing attempts”, “List active missions”.",
            )  # fmt: skip
        except Exception:
            log.exception("the demo scenario stopped")

    @staticmethod
    async def _fresh(base: str, lookup: Callable[[str], Awaitable[object | None]]) -> str:
        candidate, n = base, 1
        while await lookup(candidate) is not None:
            n += 1
            candidate = f"{base}_{n}"
        return candidate

    async def _learn(self, user: str) -> None:
        learning = self.grace.learning
        if learning is None:
            return
        sample = resources.files("grace_chat").joinpath("demo_data/CRM_API_Spec.md")
        with contextlib.suppress(Exception):
            await learning.submit(Path(str(sample)), user)


def install_demo(grace: Grace, service: socket.socket, pace: float = 1.0) -> DemoScenario:
    scenario = DemoScenario(grace, service, pace)
    grace.add_component(scenario)
    return scenario
