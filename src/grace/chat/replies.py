"""How Grace words her answers in the chat, from the same data the protocol returns."""

from __future__ import annotations

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
