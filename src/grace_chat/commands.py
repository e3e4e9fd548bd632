"""Client commands, whatever the channel (WebSocket frame, REST call, chat sentence).

``CommandRouter`` maps a protocol command type to the component that serves it. Components
register their handlers when they are wired into the application; a command of the protocol whose
component is absent answers ``unavailable`` — never a silent drop — and says why when the
application told the router (``explain``: the extra that would install the component).
Handlers receive the caller's ``Identity`` (from a token, never from the frame) and return the
reply frame; the router adds ``ref``. Given ``metrics``, each dispatched command is counted
once by type and result (``ok``, the ``GraceError``'s code, or ``internal`` for anything else).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from grace_chat.auth import Identity
from grace_chat.errors import ErrorCode, GraceError, Unavailable
from grace_chat.metrics import Metrics
from grace_chat.protocol import Ack, Command, MarkRead, Ping

if TYPE_CHECKING:
    from grace_chat.hub.outbox import Outbox
    from grace_chat.notifications.notifier import Notifier

_COMPONENT = {
    "list_tasks": "task control",
    "cancel_task": "task control",
    "pause_task": "task control",
    "resume_task": "task control",
    "task_logs": "task control",
    "start_task": "task control",
    "pause_learning": "the learning supervisor",
    "resume_learning": "the learning supervisor",
    "approve": "the approval gateway",
    "reject": "the approval gateway",
    "status": "status reporting",
    "chat": "the unified chat",
}


@dataclass(slots=True)
class CommandContext:
    identity: Identity
    channel: str  # "ws", "sse", "rest", "chat"
    outbox: Outbox | None = None
    state: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[CommandContext, Any], Awaitable[dict[str, Any]]]


class CommandRouter:
    def __init__(self, metrics: Metrics | None = None) -> None:
        self._handlers: dict[str, Handler] = {}
        self._reasons: dict[str, str] = {}
        self._metrics = metrics

    def register(self, command_type: str, handler: Handler) -> None:
        self._handlers[command_type] = handler

    def explain(self, command_types: Iterable[str], reason: str) -> None:
        """Why ``command_types`` have no handler on this server (``"the learning system needs
        pypdf: pip install 'grace-chat[learning]'"``): their ``unavailable`` answer says it."""
        for kind in command_types:
            self._reasons[kind] = reason

    def handles(self, command_type: str) -> bool:
        return command_type in self._handlers

    async def dispatch(self, ctx: CommandContext, command: Command) -> dict[str, Any]:
        if self._metrics is None:
            return await self._dispatch(ctx, command)
        try:
            reply = await self._dispatch(ctx, command)
        except GraceError as exc:
            self._metrics.command(command.type, exc.code.value)
            raise
        except Exception:
            self._metrics.command(command.type, ErrorCode.INTERNAL.value)
            raise
        self._metrics.command(command.type, "ok")
        return reply

    async def _dispatch(self, ctx: CommandContext, command: Command) -> dict[str, Any]:
        kind = command.type
        handler = self._handlers.get(kind)
        if handler is None:
            what = _COMPONENT.get(kind, "this command")
            reason = self._reasons.get(kind)
            if reason is not None:
                raise Unavailable(
                    f"'{kind}' is not available: {what} is not enabled on this server ({reason})"
                )
            raise Unavailable(f"'{kind}' is not available: {what} is not enabled on this server")
        reply = await handler(ctx, command)
        if command.id is not None:
            reply["ref"] = command.id
        return reply


def register_core(router: CommandRouter, notifier: Notifier) -> None:
    """``ping``, ``ack`` and ``mark_read``: the commands the delivery core serves itself."""

    async def ping(ctx: CommandContext, cmd: Ping) -> dict[str, Any]:
        return {"type": "pong"}

    async def ack(ctx: CommandContext, cmd: Ack) -> dict[str, Any]:
        acked = max(int(ctx.state.get("acked", 0)), cmd.seq)
        ctx.state["acked"] = acked
        return {"type": "acked", "seq": acked}

    async def mark_read(ctx: CommandContext, cmd: MarkRead) -> dict[str, Any]:
        return await notifier.mark_read(
            ctx.identity.user_id,
            ids=cmd.ids,
            up_to_seq=cmd.up_to_seq,
            everything=cmd.all,
            exclude=ctx.outbox,
        )

    router.register("ping", ping)
    router.register("ack", ack)
    router.register("mark_read", mark_read)
