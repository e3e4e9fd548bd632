"""Slots → the things they mean, from live state and the conversation; and, when that is not
certain, the suggestions to offer instead.

A task is found by id (exactly; an id that only looks like one of the person's tasks is a
suggestion, never a target), by type ("the deployment": the newest one that the command suits),
by recency ("the previous deployment"), by state ("the paused job"), or by the conversation ("it",
"that task", "the task"). A command whose target is not certain gets candidates, and the chat asks
with them. Every suggestion carries the exact protocol command that does it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from grace_chat.approvals.model import Approval
from grace_chat.chat.conversation import Conversation
from grace_chat.chat.normalize import distance
from grace_chat.tasks.model import TaskRecord, TaskState

#: The task states each command can act on.
_SUITS: dict[str, frozenset[TaskState]] = {
    "cancel_task": frozenset({TaskState.QUEUED, TaskState.RUNNING, TaskState.PAUSED}),
    "pause_task": frozenset({TaskState.RUNNING}),
    "resume_task": frozenset({TaskState.PAUSED}),
}
_STATES: dict[str, frozenset[TaskState]] = {
    "running": frozenset({TaskState.RUNNING, TaskState.QUEUED}),
    "active": frozenset({TaskState.RUNNING, TaskState.QUEUED, TaskState.PAUSED}),
    "failed": frozenset({TaskState.FAILED, TaskState.INTERRUPTED}),
    "paused": frozenset({TaskState.PAUSED}),
    "succeeded": frozenset({TaskState.SUCCEEDED}),
    "cancelled": frozenset({TaskState.CANCELLED, TaskState.CANCELLING}),
    "queued": frozenset({TaskState.QUEUED}),
}


@dataclass(slots=True)
class Found:
    """The task meant (``task``), or what it might be (``candidates``), or why there is none."""

    task: TaskRecord | None = None
    candidates: list[TaskRecord] = field(default_factory=list)
    #: An id that names none of the person's tasks: passed on, so the command says why.
    other_id: str | None = None
    missing: str | None = None


def task_type(word: str, names: list[str]) -> str | None:
    """``deploy`` / ``deployments`` → ``deployment``, when exactly one type fits."""
    word = word.lower()
    if word in names:
        return word
    stem = word[:-2] if word.endswith("es") and word[:-2] in names else word.rstrip("s")
    matches = [n for n in names if n.startswith(stem) or stem.startswith(n)]
    return matches[0] if len(matches) == 1 else None


def state_names(state: str) -> frozenset[str]:
    """The task states a state word covers ("failed": failed and interrupted)."""
    return frozenset(s.value for s in _STATES.get(state, ()))


def in_state(task: TaskRecord, state: str) -> bool:
    state_set = _STATES.get(state)
    if state == "paused" and task.pause_requested:
        return True
    return state_set is None or task.state in state_set


def suits(name: str, task: TaskRecord) -> bool:
    if name == "pause_task":
        return task.state is TaskState.RUNNING and not task.pause_requested
    if name == "resume_task":
        return task.state is TaskState.PAUSED or task.pause_requested
    states = _SUITS.get(name)
    return states is None or task.state in states


def find_task(
    name: str,
    args: dict[str, str],
    tasks: list[TaskRecord],
    types: list[str],
    conversation: Conversation,
) -> Found:
    """``tasks``: the person's, newest first."""
    acting = name in _SUITS
    task_id = args.get("id")
    if task_id:
        exact = [t for t in tasks if t.task_id == task_id]
        if not exact and task_id.isdigit() and args.get("what"):
            kind = task_type(args["what"], types)  # "deploy 456": deploy_456, said by type
            exact = [t for t in tasks if t.task_type == kind and _alike(t.task_id, task_id)]
            exact = exact if len(exact) == 1 else []
        if exact:
            return Found(exact[0])
        close = [t for t in tasks if distance(t.task_id, task_id) <= 2]
        if not close and acting:
            close = [t for t in tasks if _alike(t.task_id, task_id) and suits(name, t)]
        return Found(candidates=close[:5]) if close else Found(other_id=task_id)
    pool = tasks
    what, state, which = args.get("what"), args.get("state"), args.get("which")
    if what:
        kind = task_type(what, types)
        if kind is None:
            known = ", ".join(types) or "none"
            return Found(missing=f"I don't know a task type {what!r} (I know: {known}).")
        pool = [t for t in pool if t.task_type == kind]
        if not pool:
            return Found(missing=f"You have no {kind.replace('_', ' ')} task.")
    if state:
        pool = [t for t in pool if in_state(t, state)]
    if not (what or state or which):
        mentioned = next((t for t in tasks if t.task_id == conversation.task_id), None)
        if mentioned is not None and "all" not in args:
            return Found(mentioned)
        return Found(candidates=[t for t in pool if suits(name, t)][:5] if acting else pool[:5])
    if which == "previous":
        pool = pool[1:2]
    elif which == "first":
        pool = pool[-1:]
    elif which == "latest":
        pool = pool[:1]
    if not pool:
        return Found(missing="I found no task like that.")
    if "all" in args:
        return Found(candidates=[t for t in pool if suits(name, t)][:5])
    if not acting:
        return Found(pool[0])
    suited = [t for t in pool if suits(name, t)]
    if len(suited) == 1:
        return Found(suited[0])
    if len(suited) > 1:
        return Found(candidates=suited[:5])
    return Found(pool[0])  # the command says why it cannot


_WORD = re.compile(r"[a-z0-9]+")
_PARTS = re.compile(r"([a-z]*)[_\-.]?(\d*)$")


def _alike(task_id: str, said: str) -> bool:
    """An id said for a command that names none of the person's tasks but shares a part with
    ``task_id``: its number ("task 301": ``sync_301``) or its prefix ("deploy_999":
    ``deploy_456``). Such a task is a suggestion, never the target."""
    mine, theirs = _PARTS.match(task_id.lower()), _PARTS.match(said.lower())
    if mine is None or theirs is None:
        return False
    if theirs[2] and theirs[2] == mine[2]:
        return True
    return bool(theirs[1]) and theirs[1] == mine[1] and bool(theirs[2])


def find_approval(
    args: dict[str, str], pending: list[Approval]
) -> tuple[Approval | None, list[Approval]]:
    """The pending approval meant, or the candidates."""
    approval_id = args.get("id")
    said = args.get("about", "")
    if approval_id:
        exact = [a for a in pending if a.approval_id == approval_id]
        close = [a for a in pending if distance(a.approval_id, approval_id) <= 2]
        if exact or close or "." not in approval_id:
            return (exact[0], []) if exact else (None, close)
        said = f"{approval_id} {said}"  # "the config.yaml change": what it touches, not an id
    about = {w.rstrip("s") for w in _WORD.findall(said.lower())}
    about -= {"the", "one", "a", "that", "it", "this", "please", "request", "ye", "no", "ok"}
    if about and pending:
        scored = [(len(about & _words(a)), a) for a in pending]
        best = max(score for score, _ in scored)
        top = [a for score, a in scored if score == best]
        if best > 0 and len(top) == 1:
            return top[0], []
        if best == 0:
            return None, pending
    if len(pending) == 1:
        return pending[0], []
    return None, pending


#: Words a person uses for what an approval's action does.
_ALSO = {"modify": ("change", "edit", "update", "write"), "delete": ("remove", "erase"),
         "restart": ("reboot", "bounce"), "deploy": ("release", "ship"),
         "file": ("config",), "config": ("configuration", "settings")}  # fmt: skip


def _words(approval: Approval) -> set[str]:
    text = " ".join([approval.action_type, approval.agent, approval.message,
                     *map(str, approval.params.values())])  # fmt: skip
    words = set(_WORD.findall(text.lower().replace("_", " ")))
    words |= {w.rstrip("s") for w in words} | {w[:-3] for w in words if w.endswith("ing")}
    return words | {also for w in list(words) for also in _ALSO.get(w, ())}


_ORDINALS = {
    "first": 0,
    "1st": 0,
    "1": 0,
    "second": 1,
    "2nd": 1,
    "2": 1,
    "third": 2,
    "3rd": 2,
    "3": 2,
    "fourth": 3,
    "4th": 3,
    "4": 3,
    "fifth": 4,
    "5th": 4,
    "5": 4,
    "last": -1,
}
_AROUND_ORDINAL = frozenset({"the", "one", "option", "number", "no", "please", "pls", "that",
                             "ok", "okay", "yes", "yeah", "i", "mean", "meant",
                             "choice"})  # fmt: skip


def ordinal(text: str) -> int | None:
    """Which of the suggestions just offered a reply picks by position ("the second one",
    "option 2", "the last one"): its index (``-1``: the last), or None."""
    words = _WORD.findall(text.lower())
    picks = [_ORDINALS[w] for w in words if w in _ORDINALS]
    if len(picks) != 1 or any(w not in _ORDINALS and w not in _AROUND_ORDINAL for w in words):
        return None
    return picks[0]


def about_words(text: str) -> str:
    """The words of a reply to "which one?" ("the config one")."""
    return " ".join(w for w in _WORD.findall(text.lower()) if w not in ("the", "one", "a", "that"))


# -- suggestions -----------------------------------------------------------------------------


def task_suggestion(name: str, task: TaskRecord) -> dict[str, Any]:
    title = task.display_title
    if name == "task_logs":
        return _s(f"Show logs of task {task.task_id} ({title})",
                  {"type": "task_logs", "task_id": task.task_id})  # fmt: skip
    if name == "task_status":
        return _s(f"Show task {task.task_id} ({title})",
                  {"type": "chat", "text": f"status of {task.task_id}"})  # fmt: skip
    verb = {"cancel_task": "Cancel", "pause_task": "Pause", "resume_task": "Resume"}[name]
    return _s(f"{verb} task {task.task_id} ({title})", {"type": name, "task_id": task.task_id})


def approval_suggestion(name: str, approval: Approval) -> dict[str, Any]:
    verb = "Approve" if name == "approve" else "Reject"
    return _s(
        f"{verb} {approval.action_type} ({approval.approval_id}): {approval.message}",
        {"type": name, "approval_id": approval.approval_id},
    )


def run_suggestion(kind: str) -> dict[str, Any]:
    return _s(f"Start a {kind.replace('_', ' ')} task", {"type": "start_task", "task_type": kind})


def learning_suggestion(name: str) -> dict[str, Any]:
    label = "Pause learning" if name == "pause_learning" else "Resume learning"
    return _s(label, {"type": name})


def _s(label: str, command: dict[str, Any]) -> dict[str, Any]:
    return {"label": label, "command": command}


def command_intent(command: dict[str, Any]) -> tuple[str, dict[str, str]] | None:
    """A suggestion's command as the chat's intent and slots (what a "yes" runs)."""
    kind = command.get("type")
    if kind in ("cancel_task", "pause_task", "resume_task", "task_logs"):
        return str(kind), {"id": str(command["task_id"])}
    if kind in ("approve", "reject"):
        return str(kind), {"id": str(command["approval_id"])}
    if kind == "start_task":
        return "run_task", {"what": str(command["task_type"])}
    if kind in ("pause_learning", "resume_learning"):
        return str(kind), {}
    return None
