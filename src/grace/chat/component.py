"""``/api/unified/chat``: a sentence in, an answer out, drawn from live state.

Sentences are parsed deterministically (``chat.intents``) into the same typed protocol commands
the WebSocket accepts, and run through the same ``CommandRouter`` with the caller's identity, so
the chat can do nothing the person could not do with a command. A sentence the parser does not
understand goes to the optional ``interpreter`` hook (an LLM, say), whose answer must again be a
protocol command; failing that, Grace says what she can do and does nothing. Every exchange is
kept in the user's chat history.
"""

from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from grace.approvals.gateway import ActionGateway
from grace.approvals.model import ApprovalState
from grace.auth import Identity
from grace.chat import replies
from grace.chat.history import ChatHistory, ChatMessage
from grace.chat.intents import Intent, parse
from grace.commands import CommandContext, CommandRouter
from grace.errors import BadRequest, GraceError, NotFound, Unavailable
from grace.missions.component import MissionControl
from grace.notifications.store import NotificationStore
from grace.protocol import (
    Approve,
    CancelTask,
    Chat,
    Command,
    ListTasks,
    PauseLearning,
    PauseTask,
    Reject,
    ResumeLearning,
    ResumeTask,
    Status,
    TaskLogs,
    parse_command,
)  # fmt: skip
from grace.selfheal.component import SelfHeal
from grace.tasks.runner import TaskRunner

#: ``(sentence, caller) -> command frame or None``; plugged in by applications that want an LLM.
Interpreter = Callable[[str, Identity], Awaitable[dict[str, Any] | None]]
Reply = dict[str, Any]


class UnifiedChat:
    name = "chat"

    def __init__(
        self,
        *,
        commands: CommandRouter,
        history: ChatHistory,
        notifications: NotificationStore,
        runner: TaskRunner,
        gateway: ActionGateway,
        healer: SelfHeal | None = None,
        missions: MissionControl | None = None,
        interpreter: Interpreter | None = None,
    ) -> None:
        self.commands = commands
        self.history = history
        self.notifications = notifications
        self.runner = runner
        self.gateway = gateway
        self.healer = healer
        self.missions = missions
        self.interpreter = interpreter

    async def start(self) -> None:
        await self.history.open()

    async def stop(self) -> None:
        return None

    # -- the conversation ---------------------------------------------------------------------

    async def ask(self, caller: Identity, text: str) -> Reply:
        """Answer one sentence and keep both sides in the history."""
        text = text.strip()
        if not text:
            raise BadRequest("say something")
        await self.history.add(ChatMessage(caller.user_id, "user", text))
        reply = await self._answer(caller, text)
        await self.history.add(
            ChatMessage(
                caller.user_id,
                "grace",
                reply["text"],
                {"intent": reply["intent"], "data": reply["data"]},
            )
        )
        return reply

    async def _answer(self, caller: Identity, text: str) -> Reply:
        intent = parse(text)
        if intent is None and self.interpreter is not None:
            frame = await self.interpreter(text, caller)
            if frame is not None:
                return await self._run_frame(caller, frame)
        if intent is None:
            return _reply(f"I'm not sure what you mean. I can: {replies.CAPABILITIES}.", None)
        try:
            return await self._run(caller, intent)
        except GraceError as exc:
            return _reply(_explain(intent, exc), intent.name, {"error": exc.code})

    async def _dispatch(self, caller: Identity, command: Command) -> dict[str, Any]:
        ctx = CommandContext(identity=caller, channel="chat")
        return await self.commands.dispatch(ctx, command)

    async def _run_frame(self, caller: Identity, frame: dict[str, Any]) -> Reply:
        try:
            command = parse_command(orjson.dumps(frame), max_bytes=64 * 1024)
            if command.type in ("hello", "chat"):
                raise BadRequest("the interpreter may not send that")
            result = await self._dispatch(caller, command)
        except GraceError as exc:
            return _reply(f"I couldn't do that: {exc.message}", None, {"error": exc.code})
        kind = command.type
        return _reply(result.get("summary") or f"Done: {kind}.", kind, result)

    async def _run(self, caller: Identity, intent: Intent) -> Reply:
        name, args = intent.name, intent.args
        if name == "help":
            return _reply(f"I can: {replies.CAPABILITIES}.", name)
        if name == "declined":
            return _reply("Understood — I haven't done anything.", name, args)
        if name == "status":
            result = await self._dispatch(caller, Status(type="status"))
            return _reply(result["summary"], name, result)
        if name == "list_tasks":
            result = await self._dispatch(caller, ListTasks(type="list_tasks"))
            return _reply(replies.task_list(result["tasks"], result["active"]), name, result)
        if name in ("cancel_task", "pause_task", "resume_task"):
            return await self._control_task(caller, name, args.get("id"))
        if name in ("pause_learning", "resume_learning"):
            command: Command = (
                PauseLearning(type="pause_learning") if name == "pause_learning"
                else ResumeLearning(type="resume_learning")
            )  # fmt: skip
            result = await self._dispatch(caller, command)
            text = result.get("message") or (
                "Learning jobs paused. Grace will not start new learning tasks."
                if name == "pause_learning" else "Learning resumed."
            )  # fmt: skip
            return _reply(text, name, result)
        if name == "healing":
            if self.healer is None:
                raise Unavailable("self-heal is not enabled on this server")
            attempts = [a.info() for a in await self.healer.attempts(caller, 10)]
            return _reply(replies.healing(attempts), name, {"attempts": attempts})
        if name == "missions":
            if self.missions is None:
                raise Unavailable("mission control is not enabled on this server")
            items = [m.info() for m in await self.missions.list_missions(caller)]
            return _reply(replies.missions(items), name, {"missions": items})
        if name == "run_task":
            return await self._run_task(caller, args["what"])
        if name == "task_logs":
            return await self._logs(caller, args)
        if name in ("approve", "reject"):
            return await self._decide(caller, name, args.get("id"))
        raise Unavailable(f"'{name}' is not available")

    async def _control_task(self, caller: Identity, name: str, task_id: str | None) -> Reply:
        verb = {"cancel_task": "cancel", "pause_task": "pause", "resume_task": "resume"}[name]
        if not task_id:
            active = [t for t in await self.runner.list_tasks(caller) if t.state.active]
            listed = ", ".join(t.task_id for t in active[:5]) or "none are running"
            return _reply(f"Which task should I {verb}? Active tasks: {listed}.", name)
        model: dict[str, type[Command]] = {
            "cancel_task": CancelTask,
            "pause_task": PauseTask,
            "resume_task": ResumeTask,
        }
        command = model[name].model_validate({"type": name, "task_id": task_id})
        result = await self._dispatch(caller, command)
        task = result["task"]
        done = {"cancel": "Cancelling", "pause": "Pausing", "resume": "Resuming"}[verb]
        return _reply(f"{done} task {task['task_id']} ({task['title']}).", name, result)

    async def _run_task(self, caller: Identity, what: str) -> Reply:
        task_type = self._resolve_type(what)
        if task_type is None:
            known = ", ".join(self.runner.types.names()) or "nothing yet"
            return _reply(f"I don't know how to run {what!r}. I can run: {known}.", "run_task")
        record = await self.runner.start_task(user_id=caller.user_id, task_type=task_type)
        text = (
            f"Starting {task_type.replace('_', ' ')} as background task {record.task_id}.\n"
            "I'll notify you when it's complete."
        )
        return _reply(text, "run_task", {"task": record.info()})

    def _resolve_type(self, word: str) -> str | None:
        names = self.runner.types.names()
        word = word.lower()
        if word in names:
            return word
        stem = word.rstrip("s")
        matches = [n for n in names if n.startswith(stem) or stem.startswith(n)]
        return matches[0] if len(matches) == 1 else None

    async def _logs(self, caller: Identity, args: dict[str, str]) -> Reply:
        task_id = args.get("id")
        if task_id is None:
            task_type = self._resolve_type(args.get("what", ""))
            mine = [t for t in await self.runner.list_tasks(caller) if t.task_type == task_type]
            if task_type is None or not mine:
                return _reply(
                    f"I found no {args.get('what', '')} task to show logs for.", "task_logs"
                )
            task_id = max(mine, key=lambda t: t.created_at).task_id
        result = await self._dispatch(caller, TaskLogs(type="task_logs", task_id=task_id))
        task = (await self.runner.get(task_id, caller)).info()
        return _reply(replies.logs(task, result["lines"]), "task_logs", {**result, "task": task})

    async def _decide(self, caller: Identity, name: str, approval_id: str | None) -> Reply:
        if approval_id is None:
            pending = await self.gateway.list_approvals(caller, ApprovalState.PENDING)
            if not pending:
                return _reply("Nothing is waiting for your approval.", name)
            if len(pending) > 1:
                items = [a.info() for a in pending]
                return _reply(replies.approvals_to_choose(items), name, {"pending": items})
            approval_id = pending[0].approval_id
        model = Approve if name == "approve" else Reject
        command = model.model_validate({"type": name, "approval_id": approval_id})
        result = await self._dispatch(caller, command)
        a = result["approval"]
        if not result["decided"]:
            return _reply(f"That was already {a['state']}: {a['message']}.", name, result)
        verb = "Approved" if name == "approve" else "Rejected"
        text = f"{verb} {a['action_type']} ({a['approval_id']}): {a['message']}."
        return _reply(text, name, result)

    # -- channels -----------------------------------------------------------------------------

    async def chat_command(self, ctx: CommandContext, cmd: Chat) -> dict[str, Any]:
        return {"type": "chat_reply", **await self.ask(ctx.identity, cmd.text)}

    async def thread(self, caller: Identity, limit: int = 100) -> list[dict[str, Any]]:
        """The conversation as the chat shows it: messages and notifications by time, approval
        cards with their current state."""
        messages = [m.info() for m in await self.history.latest(caller.user_id, limit)]
        notes = await self.notifications.read_latest(caller.user_id, limit)
        cards: list[dict[str, Any]] = []
        for n in reversed(notes):
            item: dict[str, Any] = {"kind": "notification", "timestamp": n.timestamp,
                                    "notification": n.frame()}  # fmt: skip
            approval_id = n.data.get("approval_id")
            if n.type == "approval_needed" and isinstance(approval_id, str):
                try:
                    approval = await self.gateway.get(approval_id, caller)
                    item["approval_state"] = approval.state.value
                except NotFound:
                    item["approval_state"] = "unknown"
            cards.append(item)
        merged = sorted(messages + cards, key=lambda item: item["timestamp"])
        return merged[-limit:]


def _reply(text: str, intent: str | None, data: dict[str, Any] | None = None) -> Reply:
    return {"text": text, "intent": intent, "data": data or {}}


def _explain(intent: Intent, exc: GraceError) -> str:
    target = intent.args.get("id")
    what = f" {target}" if target else ""
    action = intent.name.replace("_", " ")
    if exc.code == "unavailable":
        return f"I can't {action} here: {exc.message}."
    return f"I couldn't {action}{what}: {exc.message}."


__all__ = ["Interpreter", "UnifiedChat"]
