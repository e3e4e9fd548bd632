"""How Grace words her answers in the chat, from the same data the protocol returns."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

STATE_ICON = {
    "running": "🔄", "paused": "⏸️", "queued": "⏳", "cancelling": "🛑", "succeeded": "✅",
    "failed": "❌", "cancelled": "🚫", "interrupted": "⚠️", "completed": "✅",
}  # fmt: skip

CAPABILITIES = (
    "show background tasks · cancel / pause / resume task <id> · pause or resume learning · "
    "what's Grace doing? · show healing attempts · list active missions · "
    "run <task type> in the background · show <task type> logs · approve or reject a pending "
    "action"
)


def task_status(task: dict[str, Any]) -> str:
    state = task["state"]
    if state == "running":
        text = f"Running ({task['running_for'] or '0s'})"
        if task.get("progress") is not None:
            text += f", {round(task['progress'] * 100)}%"
        return text
    if state == "succeeded":
        return f"Completed ({task['running_for']})"
    if state == "failed":
        return f"Failed: {task.get('error') or 'unknown error'}"
    return str(state).capitalize()


def task_list(tasks: list[dict[str, Any]], active: int) -> str:
    if not tasks:
        return "No background tasks right now."
    lines = [f"Background Tasks ({active} active):", ""]
    for t in tasks[:10]:
        lines.append(f"{STATE_ICON.get(t['state'], '•')} {t['task_id']} - {t['title']}")
        lines.append(f"   Status: {task_status(t)}")
    if len(tasks) > 10:
        lines.append(f"… and {len(tasks) - 10} more")
    return "\n".join(lines)


def local_time(iso: str | None) -> str:
    if not iso:
        return ""
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone()
    return moment.strftime("%I:%M %p").lstrip("0")


def healing(attempts: list[dict[str, Any]]) -> str:
    if not attempts:
        return "No self-healing attempts yet."
    lines = ["Recent self-healing attempts:"]
    for a in attempts[:10]:
        detail = f": {a['detail']}" if a.get("detail") else ""
        lines.append(
            f"🔧 {a['playbook']} ({a['strategy']}) for {a['trigger']} — {a['outcome']}{detail}"
            f" · {local_time(a['started_at'])}"
        )
    return "\n".join(lines)


def missions(items: list[dict[str, Any]]) -> str:
    active = [m for m in items if m["state"] in ("running", "paused")]
    shown = active or items[:5]
    if not shown:
        return "No missions yet."
    lines = ["Active missions:" if active else "No active missions. Recent ones:"]
    for m in shown:
        step = min(m["current_step"] + 1, len(m["steps"]))
        lines.append(
            f"{STATE_ICON.get(m['state'], '🚀')} {m['mission_id']} ({m['name']}) — "
            f"step {step}/{len(m['steps'])}, {m['state']}"
        )
    return "\n".join(lines)


def logs(task: dict[str, Any], lines: list[dict[str, Any]]) -> str:
    head = f"Logs of task {task['task_id']} ({task['title']}, {task['state']}):"
    if not lines:
        return f"{head}\n(no output yet)"
    return head + "\n" + "\n".join(entry["line"] for entry in lines[-20:])


def approvals_to_choose(pending: list[dict[str, Any]]) -> str:
    listed = "\n".join(f"⚠️ {a['approval_id']}: {a['message']}" for a in pending[:10])
    return f"Which one? {len(pending)} actions are waiting:\n{listed}"


def task_line(task: dict[str, Any]) -> str:
    """One task, as an answer to "how is the deployment going?"."""
    text = f"{STATE_ICON.get(task['state'], '•')} Task {task['task_id']} ({task['title']}): "
    text += task_status(task)
    if task.get("note") and task["state"] in ("running", "paused"):
        text += f" — {task['note']}"
    return text + "."


def filtered_tasks(tasks: list[dict[str, Any]], label: str) -> str:
    if not tasks:
        return f"No {label} tasks."
    lines = [f"{label.capitalize()} tasks ({len(tasks)}):"]
    for t in tasks[:10]:
        lines.append(f"{STATE_ICON.get(t['state'], '•')} {t['task_id']} - {t['title']}")
        lines.append(f"   Status: {task_status(t)}")
    if len(tasks) > 10:
        lines.append(f"… and {len(tasks) - 10} more")
    return "\n".join(lines)


def pending_approvals(pending: list[dict[str, Any]]) -> str:
    if not pending:
        return "Nothing is waiting for your approval."
    count = len(pending)
    head = f"{count} action{'s are' if count > 1 else ' is'} waiting for your approval:"
    return head + "\n" + "\n".join(f"⚠️ {a['approval_id']}: {a['message']}" for a in pending[:10])


def did_you_mean(question: str, suggestions: list[dict[str, Any]]) -> str:
    """The ``clarify`` reply: a question and the suggestions, each of which is a button."""
    if len(suggestions) == 1:
        return f"{question} Did you mean: {suggestions[0]['label']}?"
    listed = "\n".join(f"• {s['label']}" for s in suggestions)
    return f"{question} Did you mean one of these?\n{listed}"


_IF = {
    "cancel_task": "If you cancel {target}, it stops at its next checkpoint (a shell command is "
    "terminated) and cannot be resumed; what it finished stays done.",
    "pause_task": "If you pause {target}, it waits at its next checkpoint until you resume it; "
    "nothing is lost.",
    "resume_task": "If you resume {target}, it carries on from where it paused.",
    "run_task": "If you start {target}, it runs in the background and I tell you when it is done.",
    "pause_learning": "If you pause learning, no new learning job starts until you resume it; "
    "documents sent meanwhile wait.",
    "resume_learning": "If you resume learning, the documents that waited are learned.",
    "approve": "If you approve {target}, it goes ahead.",
    "reject": "If you reject {target}, it does not happen and the requester is told.",
}


def hypothetical(name: str, target: str | None) -> str:
    default = {"run_task": "a task", "approve": "the request", "reject": "the request"}
    text = _IF.get(name, "I can tell you what would happen, but not for that.")
    text = text.format(target=target or default.get(name, "the task"))
    return f"{text} I haven't done anything."


def greeting(text: str) -> str:
    said = set(re.findall(r"[a-z]+", text.lower()))
    if said & {"thanks", "thank", "thx", "cheers", "ty"}:
        return "You're welcome."
    if "whoareyou" in said or {"who", "you"} <= said:
        return f"I'm Grace: I watch over your background work. I can: {CAPABILITIES}."
    if said & {"hello", "hi", "hey", "morning", "afternoon", "evening", "yo", "howdy"}:
        return "Hello! Ask me what's running, or tell me what to do."
    return "OK."


#: How a clarify reply names the command it asks about.
VERBS = {"cancel_task": "cancel", "pause_task": "pause", "resume_task": "resume",
         "task_logs": "show the logs of", "task_status": "look at", "approve": "approve",
         "reject": "reject", "run_task": "start"}  # fmt: skip


def failed(name: str, target: str | None, code: str, message: str) -> str:
    """A command that could not be done, and why."""
    action = {"task_status": "find task", "task_logs": "show the logs of task"}.get(
        name, name.replace("_", " ")
    )
    if code == "unavailable":
        return f"I can't {action} here: {message}."
    what = f" {target}" if target else ""
    return f"I couldn't {action}{what}: {message}."


def learning(pause: bool, result: dict[str, Any]) -> str:
    """What the chat says to a ``learning`` reply (see ``grace_chat.learning.commands``)."""
    everyone = result.get("scope") == "all"
    whose = " for everyone" if everyone else ""
    if pause:
        if not result.get("changed"):
            return f"Learning was already paused{whose}."
        return f"Learning jobs paused{whose}. Grace will not start new learning tasks."
    text = f"Learning resumed{whose}." if result.get("changed") else (
        f"Learning was already running{whose}."
    )  # fmt: skip
    if result.get("effective") == "paused":
        text += (
            " Your own learning is still paused." if everyone
            else " It is still paused for everyone until an admin resumes it."
        )  # fmt: skip
    return text


def nothing_to(name: str) -> str:
    """What Grace says when a command she would ask about has nothing to act on."""
    nothing = {"pause_task": "No task is running.", "resume_task": "No task is paused.",
               "approve": "Nothing is waiting for your approval.",
               "reject": "Nothing is waiting for your approval."}  # fmt: skip
    return nothing.get(name, f"There is no task to {VERBS.get(name, 'do')}.")


def which(name: str, suggestions: list[dict[str, Any]]) -> str:
    """The question of a ``clarify`` reply, with its suggestions."""
    kind = "one" if name in ("approve", "reject") else "task"
    what = VERBS.get(name, "do")
    question = f"Which {kind} should I {what}?" if len(suggestions) > 1 else ""
    return did_you_mean(question or "I'm not sure.", suggestions)
