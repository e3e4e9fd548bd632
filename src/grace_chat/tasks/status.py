"""The task runner's section of "What is Grace doing?": running, paused, queued and recent
tasks, and the sentence that says so."""

from __future__ import annotations

from typing import Any

from grace_chat.auth import Identity
from grace_chat.status import Provider, listed
from grace_chat.tasks.model import TaskState
from grace_chat.tasks.runner import TaskRunner


def task_status(runner: TaskRunner) -> Provider:
    async def provider(caller: Identity) -> tuple[dict[str, Any], str | None]:
        tasks = await runner.list_tasks(caller)
        by_state: dict[str, list[dict[str, Any]]] = {
            "running": [],
            "paused": [],
            "queued": [],
            "recent": [],
        }
        for t in tasks:
            if t.state in (TaskState.RUNNING, TaskState.CANCELLING):
                by_state["running"].append(t.info())
            elif t.state is TaskState.PAUSED:
                by_state["paused"].append(t.info())
            elif t.state is TaskState.QUEUED:
                by_state["queued"].append(t.info())
            elif len(by_state["recent"]) < 5:
                by_state["recent"].append(t.info())
        parts = []
        running = by_state["running"]
        if running:
            described = [
                f"{t['title']} ({round((t['progress'] or 0) * 100)}%)"
                if t["progress"] is not None
                else t["title"]
                for t in running
            ]
            noun = "task" if len(running) == 1 else "tasks"
            parts.append(f"running {len(running)} {noun}: {listed(described)}")
        if by_state["paused"]:
            parts.append(f"{len(by_state['paused'])} paused")
        if by_state["queued"]:
            parts.append(f"{len(by_state['queued'])} queued")
        if parts:
            sentence = "Grace is " + "; ".join(parts) + "."
        else:
            sentence = "No background tasks are running."
        if by_state["recent"]:
            last = by_state["recent"][0]
            sentence += f" Last finished: {last['title']} ({last['state']})."
        return by_state, sentence

    return provider
