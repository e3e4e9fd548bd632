""" "What is Grace doing?": one answer gathered from every component, as data and a sentence.

Components add a provider: ``async (caller) -> (data, sentence | None)``; the board calls each,
puts its data under its name and joins the sentences into the summary.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from grace.approvals.gateway import ActionGateway
from grace.approvals.model import ApprovalState
from grace.auth import Identity
from grace.tasks.model import TaskState
from grace.tasks.runner import TaskRunner

log = logging.getLogger("grace.status")
Provider = Callable[[Identity], Awaitable[tuple[dict[str, Any], str | None]]]


class StatusBoard:
    def __init__(self) -> None:
        self._providers: dict[str, Provider] = {}

    def add(self, name: str, provider: Provider) -> None:
        self._providers[name] = provider

    async def status(self, caller: Identity) -> dict[str, Any]:
        frame: dict[str, Any] = {"type": "status"}
        sentences: list[str] = []
        for name, provider in self._providers.items():
            try:
                data, sentence = await provider(caller)
            except Exception:
                log.exception("status of %s failed", name)
                data, sentence = {"error": "unavailable"}, f"I could not read the {name} status."
            frame[name] = data
            if sentence:
                sentences.append(sentence)
        frame["summary"] = " ".join(sentences) or "Grace is idle."
        return frame


def _names(titles: list[str]) -> str:
    return ", ".join(titles[:3]) + (f" and {len(titles) - 3} more" if len(titles) > 3 else "")


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
            parts.append(f"running {len(running)} {noun}: {_names(described)}")
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


def approval_status(gateway: ActionGateway) -> Provider:
    async def provider(caller: Identity) -> tuple[dict[str, Any], str | None]:
        pending = await gateway.list_approvals(caller, ApprovalState.PENDING)
        items = [a.info() for a in pending]
        if not items:
            return {"pending": []}, "Nothing is waiting for your approval."
        noun = "approval is" if len(items) == 1 else "approvals are"
        actions = _names([a["action_type"] for a in items])
        return {"pending": items}, f"{len(items)} {noun} waiting for you: {actions}."

    return provider
