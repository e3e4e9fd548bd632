"""What the conversation so far says: the task "it" means, and a question Grace is waiting on.

Built from the user's recent chat history. Grace keeps, with each reply, the slots she acted on
(``slots.task_id``) and, for a ``clarify`` reply, the suggestions she offered and the command she
was asked for (``pending``). "it" / "that task" is the task the newest message spoke of (a reply's
slots, or a task id the person typed); a bare "yes" runs the one suggestion of the newest reply,
when that reply was a question asked in the last ten minutes.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from grace_chat.chat.history import ChatMessage

#: How far back "it" may point, in messages (the person's and Grace's).
LOOKBACK = 6
#: How long a question of Grace's waits for its "yes", in seconds.
ANSWER_WITHIN = 600.0
_ID = re.compile(r"[A-Za-z0-9][\w.:-]*")


@dataclass(frozen=True, slots=True)
class Conversation:
    #: The task the conversation last spoke of.
    task_id: str | None = None
    #: The newest reply's question: the command it was about and the suggestions offered.
    pending: str | None = None
    suggestions: list[dict[str, Any]] = field(default_factory=list)
    #: The newest reply's pending target slots (what was known when Grace asked).
    pending_args: dict[str, str] = field(default_factory=dict)


def read(
    messages: list[ChatMessage], known_tasks: set[str], now: float | None = None
) -> Conversation:
    """``messages`` oldest first, as ``ChatHistory.latest`` returns them."""
    recent = messages[-LOOKBACK:]
    task_id: str | None = None
    for message in reversed(recent):
        spoke, task_id = _task_of(message, known_tasks)
        if spoke:
            break
    last = next((m for m in reversed(recent) if m.role == "grace"), None)
    if last is None or last.data.get("intent") != "clarify" or recent[-1] is not last:
        return Conversation(task_id)
    if (now if now is not None else time.time()) - last.at > ANSWER_WITHIN:
        return Conversation(task_id)  # a question long ago is no longer open
    suggestions = [s for s in last.data.get("suggestions", []) if isinstance(s, dict)]
    pending = last.data.get("pending")
    args = last.data.get("pending_args")
    return Conversation(
        task_id,
        pending if isinstance(pending, str) else None,
        suggestions,
        {str(k): str(x) for k, x in args.items()} if isinstance(args, dict) else {},
    )


def _task_of(message: ChatMessage, known_tasks: set[str]) -> tuple[bool, str | None]:
    """Whether the message spoke of tasks, and of which one when it was exactly one."""
    if message.role == "grace":
        slots = message.data.get("slots")
        if isinstance(slots, dict) and isinstance(slots.get("task_id"), str):
            return True, str(slots["task_id"])
        if message.data.get("intent") in ("clarify", "list_tasks"):
            return True, None  # a question or a list names many tasks, not one
    mentioned = {w for w in _ID.findall(message.text) if w in known_tasks}
    if not mentioned:
        return False, None
    return True, mentioned.pop() if len(mentioned) == 1 else None
