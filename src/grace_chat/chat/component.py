"""``/api/unified/chat``: a sentence in, an answer out, drawn from live state.

Understanding is layered, each layer its own module: ``normalize`` (the words that matter),
``vocabulary`` (things, verbs and their everyday words), ``intents`` (what kind of sentence it is
and its slots, deterministically), ``conversation`` (what "it" means, what Grace just asked) and
``resolve`` (slots → the task or approval meant, or suggestions). What it understands becomes the
same typed protocol commands the WebSocket accepts, run through the same ``CommandRouter`` with the
caller's identity, so the chat can do nothing the person could not do with a command. A reading
that is not certain enough to act on becomes a ``clarify`` reply whose suggestions each carry the
exact command; a bare "yes" runs the suggestion only when Grace offered exactly one. A sentence
the reader does not understand goes to the optional ``interpreter`` hook (an LLM, say), whose
answer must again be a protocol command; failing that, Grace says what she can do and does
nothing. Every exchange is kept in the user's chat history, with what Grace acted on.
"""

from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from grace_chat.approvals.gateway import ActionGateway
from grace_chat.approvals.model import ApprovalState
from grace_chat.auth import Identity
from grace_chat.chat import conversation, replies
from grace_chat.chat.conversation import LOOKBACK, Conversation
from grace_chat.chat.history import ChatHistory, ChatMessage, thread
from grace_chat.chat.intent import Intent
from grace_chat.chat.resolve import (
    Found,
    about_words,
    approval_suggestion,
    command_intent,
    find_approval,
    find_task,
    learning_suggestion,
    ordinal,
    run_suggestion,
    state_names,
    task_suggestion,
)
from grace_chat.chat.resolve import task_type as resolve_type
from grace_chat.chat.sentences import parse
from grace_chat.commands import CommandContext, CommandRouter
from grace_chat.errors import BadRequest, GraceError, Unavailable
from grace_chat.missions.component import MissionControl
from grace_chat.notifications.store import NotificationStore
from grace_chat.protocol import (
    Approve,
    CancelTask,
    Chat,
    Command,
    LearningScope,
    ListTasks,
    PauseLearning,
    PauseTask,
    Reject,
    ResumeLearning,
    ResumeTask,
    StartTask,
    Status,
    TaskLogs,
    parse_command,
)  # fmt: skip
from grace_chat.selfheal.component import SelfHeal
from grace_chat.tasks.runner import TaskRunner

#: ``(sentence, caller) -> command frame or None``; plugged in by applications that want an LLM.
Interpreter = Callable[[str, Identity], Awaitable[dict[str, Any] | None]]
Reply = dict[str, Any]

TASK_COMMANDS: dict[str, type[Command]] = {
    "cancel_task": CancelTask,
    "pause_task": PauseTask,
    "resume_task": ResumeTask,
}
#: What a reply keeps in the history: enough for "it" and for a "yes" to a question.
_KEPT = ("slots", "suggestions", "pending", "pending_args")


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
        earlier = await self.history.latest(caller.user_id, LOOKBACK)
        await self.history.add(ChatMessage(caller.user_id, "user", text))
        reply = await self._answer(caller, text, earlier)
        kept = {"intent": reply["intent"], "data": reply["data"]}
        kept.update({k: reply["data"][k] for k in _KEPT if k in reply["data"]})
        await self.history.add(ChatMessage(caller.user_id, "grace", reply["text"], kept))
        return reply

    async def _answer(self, caller: Identity, text: str, earlier: list[ChatMessage]) -> Reply:
        intent = parse(text, self.runner.types.names())
        if intent is None and self.interpreter is not None:
            frame = await self.interpreter(text, caller)
            if frame is not None:
                return await self._run_frame(caller, frame)
        convo = Conversation()
        if intent is None or intent.name not in ("smalltalk", "help", "declined", "status"):
            tasks = await self.runner.list_tasks(caller)
            convo = conversation.read(earlier, {t.task_id for t in tasks})
        picked = ordinal(text) if convo.pending and convo.suggestions else None
        if picked is not None and -len(convo.suggestions) <= picked < len(convo.suggestions):
            read = command_intent(convo.suggestions[picked].get("command") or {})
            if read is not None:  # "the second one": that suggestion, as if its button was pressed
                return await self._run(caller, Intent(*read), Conversation(), "")
        if convo.pending in ("approve", "reject") and (intent is None or intent.name == "target"):
            intent = Intent(convo.pending, {"about": about_words(text)})  # "the config one"
        if intent is None:
            return _reply(f"I'm not sure what you mean. I can: {replies.CAPABILITIES}.", None)
        try:
            return await self._run(caller, intent, convo, text)
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

    async def _run(self, caller: Identity, intent: Intent, convo: Conversation, text: str) -> Reply:
        name, args = intent.name, intent.args
        if name == "help":
            return _reply(f"I can: {replies.CAPABILITIES}.", name)
        if name == "smalltalk":
            return _reply(replies.greeting(text), name)
        if name == "declined":
            return _reply("Understood — I haven't done anything.", name, {**args, "slots": args})
        if name == "confirm":
            return await self._confirm(caller, convo)
        if name == "target":
            if convo.pending in TASK_COMMANDS:
                return await self._task_command(caller, convo.pending, args, convo)
            name = "task_status"
        if name == "hypothetical":
            return await self._hypothetical(caller, args, convo)
        if name == "clarify":
            reading = dict(args)
            return await self._unsure(caller, reading.pop("intent"), reading, convo)
        if name == "status":
            result = await self._dispatch(caller, Status(type="status"))
            return _reply(result["summary"], name, result)
        if name == "list_tasks":
            return await self._list(caller, args)
        if name in TASK_COMMANDS or name in ("task_status", "task_logs"):
            return await self._task_command(caller, name, args, convo)
        if name in ("pause_learning", "resume_learning"):
            return await self._learning(caller, name, args)
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
        if name == "approvals":
            pending = await self.gateway.list_approvals(caller, ApprovalState.PENDING)
            items = [a.info() for a in pending]
            return _reply(replies.pending_approvals(items), name, {"pending": items})
        if name == "run_task":
            return await self._run_task(caller, args)
        if name in ("approve", "reject"):
            return await self._decide(caller, name, args)
        raise Unavailable(f"'{name}' is not available")

    # -- reading the target -------------------------------------------------------------------

    async def _find(
        self, caller: Identity, name: str, args: dict[str, str], convo: Conversation
    ) -> Found:
        tasks = sorted(await self.runner.list_tasks(caller), key=lambda t: -t.created_at)
        return find_task(name, args, tasks, self.runner.types.names(), convo)

    async def _task_command(
        self,
        caller: Identity,
        name: str,
        args: dict[str, str],
        convo: Conversation,
    ) -> Reply:
        found = await self._find(caller, name, args, convo)
        if found.missing:
            return _reply(found.missing, name, {"slots": {}})
        if found.task is None and found.other_id is None:
            return self._ask(name, [task_suggestion(name, t) for t in found.candidates], args)
        task_id = found.task.task_id if found.task is not None else str(found.other_id)
        slots = {"task_id": task_id}
        if found.task is not None:
            slots["task_type"] = found.task.task_type
        if name == "task_status":
            task = (found.task or await self.runner.get(task_id, caller)).info()
            return _reply(replies.task_line(task), name, {"task": task, "slots": slots})
        if name == "task_logs":
            result = await self._dispatch(caller, TaskLogs(type="task_logs", task_id=task_id))
            task = (await self.runner.get(task_id, caller)).info()
            data = {**result, "task": task, "slots": slots, "command": _frame(name, task_id)}
            return _reply(replies.logs(task, result["lines"]), name, data)
        command = TASK_COMMANDS[name].model_validate({"type": name, "task_id": task_id})
        try:
            result = await self._dispatch(caller, command)
        except GraceError as exc:
            text = _explain(Intent(name, {"id": task_id}), exc)
            return _reply(text, name, {"error": exc.code, "slots": slots})
        task = result["task"]
        done = {"cancel_task": "Cancelling", "pause_task": "Pausing", "resume_task": "Resuming"}
        text = f"{done[name]} task {task['task_id']} ({task['title']})."
        return _reply(text, name, {**result, "slots": slots, "command": _frame(name, task_id)})

    def _ask(self, name: str, suggestions: list[dict[str, Any]], args: dict[str, str]) -> Reply:
        """The ``clarify`` reply: Grace asks, offering the commands she could run."""
        if not suggestions:
            return _reply(replies.nothing_to(name), name, {"slots": {}})
        text = replies.which(name, suggestions)
        data = {"suggestions": suggestions, "pending": name, "pending_args": args}
        return _reply(text, "clarify", data)

    async def _unsure(
        self, caller: Identity, name: str, args: dict[str, str], convo: Conversation
    ) -> Reply:
        """A reading Grace is not sure of (a misspelt command): the same command, as a question."""
        suggestions: list[dict[str, Any]] = []
        if name in TASK_COMMANDS:
            found = await self._find(caller, name, args, convo)
            tasks = [found.task] if found.task is not None else found.candidates
            suggestions = [task_suggestion(name, t) for t in tasks]
        elif name in ("approve", "reject"):
            pending = await self.gateway.list_approvals(caller, ApprovalState.PENDING)
            one, some = find_approval(args, pending)
            suggestions = [approval_suggestion(name, a) for a in ([one] if one else some)]
        elif name in ("pause_learning", "resume_learning"):
            suggestions = [learning_suggestion(name)]
        elif name == "run_task":
            known = self.runner.types.names()
            what = args.get("what")
            kind = resolve_type(what, known) if what else None
            suggestions = [run_suggestion(k) for k in ([kind] if kind else known[:6])]
        return self._ask(name, suggestions, args)

    async def _confirm(self, caller: Identity, convo: Conversation) -> Reply:
        """A bare "yes" / "ok": runs the one thing Grace just asked about, and nothing else."""
        if convo.pending and len(convo.suggestions) == 1:
            read = command_intent(convo.suggestions[0].get("command") or {})
            if read is not None:
                name, args = read
                return await self._run(caller, Intent(name, args), Conversation(), "")
        if convo.pending and convo.suggestions:
            return self._ask(convo.pending, convo.suggestions, convo.pending_args)
        pending = await self.gateway.list_approvals(caller, ApprovalState.PENDING)
        if pending:
            offers = [approval_suggestion(n, a) for a in pending[:3] for n in ("approve", "reject")]
            question = 'Something is waiting for your approval; I won\'t decide it on an "ok".'
            return _reply(replies.did_you_mean(question, offers), "clarify",
                          {"suggestions": offers, "pending": "approve"})  # fmt: skip
        return _reply("OK.", "smalltalk")

    async def _hypothetical(
        self, caller: Identity, args: dict[str, str], convo: Conversation
    ) -> Reply:
        name = args.get("intent", "")
        target: str | None = None
        if name in TASK_COMMANDS:
            found = await self._find(caller, name, {}, convo)
            if found.task is not None:
                target = f"task {found.task.task_id} ({found.task.display_title})"
        slots = {"intent": name}
        return _reply(replies.hypothetical(name, target), "hypothetical", {**slots, "slots": slots})

    async def _list(self, caller: Identity, args: dict[str, str]) -> Reply:
        result = await self._dispatch(caller, ListTasks(type="list_tasks"))
        slots: dict[str, str] = {}
        tasks = result["tasks"]
        if args.get("what"):
            kind = resolve_type(args["what"], self.runner.types.names())
            if kind is not None:
                slots["task_type"] = kind
                tasks = [t for t in tasks if t["task_type"] == kind]
        if args.get("state"):
            slots["state"] = args["state"]
            tasks = [t for t in tasks if t["state"] in state_names(args["state"])]
        data = {**result, "slots": slots, "command": {"type": "list_tasks"}}
        if not slots:
            return _reply(replies.task_list(tasks, result["active"]), "list_tasks", data)
        label = " ".join(
            x.replace("_", " ") for x in (slots.get("state"), slots.get("task_type")) if x
        )
        if len(tasks) == 1:  # "show me the paused job": the one it found is "it" from now on
            data["slots"] = {**slots, "task_id": tasks[0]["task_id"]}
        return _reply(replies.filtered_tasks(tasks, label), "list_tasks", {**data, "tasks": tasks})

    async def _learning(self, caller: Identity, name: str, args: dict[str, str]) -> Reply:
        # "pause learning" is the caller's own; "... for everyone" is everyone's (admins)
        scope: LearningScope = "all" if args.get("everyone") else "own"
        command: Command = (
            PauseLearning(type="pause_learning", scope=scope) if name == "pause_learning"
            else ResumeLearning(type="resume_learning", scope=scope)
        )  # fmt: skip
        result = await self._dispatch(caller, command)
        text = replies.learning(name == "pause_learning", result)
        slots = {"everyone": "yes"} if scope == "all" else {}
        frame = command.model_dump(exclude_none=True, exclude_defaults=True)
        frame["type"] = name
        return _reply(text, name, {**result, "slots": slots, "command": frame})

    async def _run_task(self, caller: Identity, args: dict[str, str]) -> Reply:
        what = args.get("what", "")
        task_type = resolve_type(what, self.runner.types.names()) if what else None
        if task_type is None:
            known = self.runner.types.names()
            if not what:
                return self._ask("run_task", [run_suggestion(k) for k in known[:6]], args)
            listed = ", ".join(known) or "nothing yet"
            return _reply(f"I don't know how to run {what!r}. I can run: {listed}.", "run_task")
        frame = {"type": "start_task", "task_type": task_type}
        result = await self._dispatch(caller, StartTask.model_validate(frame))
        record = result["task"]
        text = (
            f"Starting {task_type.replace('_', ' ')} as background task {record['task_id']}.\n"
            "I'll notify you when it's complete."
        )
        slots = {"task_type": task_type, "task_id": record["task_id"]}
        return _reply(text, "run_task", {"task": record, "slots": slots, "command": frame})

    async def _decide(self, caller: Identity, name: str, args: dict[str, str]) -> Reply:
        pending = await self.gateway.list_approvals(caller, ApprovalState.PENDING)
        approval_id = args.get("id")
        if approval_id is None or approval_id not in {a.approval_id for a in pending}:
            one, some = find_approval(args, pending)
            if one is not None:
                approval_id = one.approval_id
            elif some or (approval_id is None and pending):
                return self._ask(name, [approval_suggestion(name, a) for a in some], args)
            elif approval_id is None:
                return _reply("Nothing is waiting for your approval.", "approvals", {"pending": []})
        model = Approve if name == "approve" else Reject
        command = model.model_validate({"type": name, "approval_id": approval_id})
        result = await self._dispatch(caller, command)
        a = result["approval"]
        slots = {"approval_id": a["approval_id"]}
        data = {**result, "slots": slots, "command": {"type": name, "approval_id": approval_id}}
        if not result["decided"]:
            return _reply(f"That was already {a['state']}: {a['message']}.", name, data)
        verb = "Approved" if name == "approve" else "Rejected"
        text = f"{verb} {a['action_type']} ({a['approval_id']}): {a['message']}."
        return _reply(text, name, data)

    # -- channels -----------------------------------------------------------------------------

    async def chat_command(self, ctx: CommandContext, cmd: Chat) -> dict[str, Any]:
        return {"type": "chat_reply", **await self.ask(ctx.identity, cmd.text)}

    async def thread(self, caller: Identity, limit: int = 100) -> list[dict[str, Any]]:
        """The conversation as the chat shows it (``history.thread``)."""
        messages = await self.history.latest(caller.user_id, limit)
        notes = await self.notifications.read_latest(caller.user_id, limit)
        return await thread(messages, notes, self.gateway, caller, limit)


def _frame(name: str, task_id: str) -> dict[str, Any]:
    return {"type": name, "task_id": task_id}


def _reply(text: str, intent: str | None, data: dict[str, Any] | None = None) -> Reply:
    return {"text": text, "intent": intent, "data": data or {}}


def _explain(intent: Intent, exc: GraceError) -> str:
    return replies.failed(intent.name, intent.args.get("id"), exc.code, exc.message)


__all__ = ["Interpreter", "UnifiedChat"]
