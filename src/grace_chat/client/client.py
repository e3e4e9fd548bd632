"""``GraceClient``: one user's notifications and commands over protocol v1, from Python.

::

    async with GraceClient("http://127.0.0.1:8000", token) as grace:
        async with contextlib.aclosing(grace.notifications()) as stream:
            async for notification in stream:
                if notification.type == "approval_needed":
                    await grace.approve(notification.data["approval_id"])

Guarantees of ``notifications()``:

* every notification of the user's log after the starting point is yielded exactly once, in
  ``seq`` order, across disconnects and server restarts: the client reconnects with backoff and
  jitter (``RetryPolicy``) and resumes after the last ``seq`` it yielded; the server replays
  what was missed, and anything at or below that ``seq`` is dropped;
* a notification counts as handled once the loop body that received it has finished (the next
  one is asked for, or the loop is left and the stream closed): only then does the cursor store
  (if any) record it, so a service that restarts resumes after the last one it handled;
* when the server's ``epoch`` differs from the cursor's, its log was replaced (a new database):
  the client starts again from the beginning of the new log (``since: 0``), so nothing of it is
  missed; ``StreamListener.epoch_changed`` is told;
* the WebSocket is tried first; when it cannot be opened (a proxy refusing upgrades) the client
  uses SSE from then on, with the same semantics (``transport`` forces one or the other);
* a refused or expired token raises ``Unauthenticated`` at once (never retried); a bad URL raises
  ``BadURL``; when ``RetryPolicy.max_attempts`` consecutive attempts fail, ``RetriesExhausted``.

Commands (``approve``, ``cancel_task``, ``status``...) return the server's typed reply frame
(``grace_chat.frames``) or raise the typed error of the code it answered (``NotFound``,
``Conflict``, ``Forbidden``, ``RateLimited``..., with the server's message). They travel on a
WebSocket of their own, or over REST where no WebSocket can be opened (the stream then uses
SSE); a command is never sent twice by the client.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from typing import Any, Literal, TypeVar

import httpx
from pydantic import ValidationError

from grace_chat.client.channel import CommandChannel
from grace_chat.client.cursor import Cursor, CursorStore
from grace_chat.client.rest import RestCommands
from grace_chat.client.retry import RetryPolicy
from grace_chat.client.transport import Endpoint, Frame, sse_frames, websocket_frames
from grace_chat.errors import (
    BadRequest,
    Crowded,
    Disconnected,
    Forbidden,
    GraceError,
    RateLimited,
    RetriesExhausted,
    Unauthenticated,
    WebSocketRefused,
    error_from,
)
from grace_chat.frames import (
    AckedFrame,
    ApprovalFrame,
    ChatReplyFrame,
    LearningFrame,
    NotificationFrame,
    PongFrame,
    ReadFrame,
    Reply,
    StatusFrame,
    SyncedFrame,
    TaskFrame,
    TaskListFrame,
    TaskLogsFrame,
    WelcomeFrame,
)
from grace_chat.protocol import (
    COMMANDS,
    CONTROL_FRAME_TYPES,
    LearningScope,
    describe_validation,
)

Transport = Literal["auto", "websocket", "sse"]
R = TypeVar("R", bound=Reply)


class StreamListener:
    """What happens to a notification stream besides its notifications. Every method does
    nothing; override the ones you want (``grace tail`` prints them)."""

    def connected(self, welcome: WelcomeFrame, transport: str) -> None:
        """A connection greeted: who the token is, and where the log stands."""

    def synced(self, synced: SyncedFrame) -> None:
        """The replay ended (``gap``: some of it was gone; ``summary``: the away summary)."""

    def disconnected(self, reason: str, attempt: int, retry_in: float) -> None:
        """The connection failed or ended; attempt ``attempt`` starts in ``retry_in`` seconds."""

    def fell_back(self, reason: str) -> None:
        """The WebSocket could not be opened: the stream uses SSE from now on."""

    def epoch_changed(self, old: str, new: str) -> None:
        """The server's log was replaced: the stream starts again from its beginning."""


class GraceClient:
    """One user's connection to a Grace server (the token's subject)."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        retry: RetryPolicy | None = None,
        transport: Transport = "auto",
        cursor_store: CursorStore | None = None,
        listener: StreamListener | None = None,
        command_timeout: float = 30.0,
    ) -> None:
        self.endpoint = Endpoint.parse(url)  # BadURL now, not at the first await
        if not token or not token.strip():
            raise Unauthenticated("no token: sign in (grace token USER) and pass it")
        if transport not in ("auto", "websocket", "sse"):
            raise ValueError("transport must be 'auto', 'websocket' or 'sse'")
        self.token = token.strip()
        self.retry = retry or RetryPolicy()
        self.transport = transport
        self.cursor_store = cursor_store
        self.listener = listener or StreamListener()
        #: Where the last stream stood: its epoch and the last seq it yielded.
        self.cursor = Cursor()
        #: The transport of the current (or last) stream connection.
        self.transport_in_use: str | None = None
        self._sse = transport == "sse"
        self._http = httpx.AsyncClient(timeout=self.retry.connect_timeout)
        self._channel = CommandChannel(self.endpoint, self.token, command_timeout)
        self._rest = RestCommands(self._http, self.endpoint, self.token, command_timeout)

    async def __aenter__(self) -> GraceClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._channel.close()
        await self._http.aclose()

    # -- the notification stream ------------------------------------------------------------

    async def notifications(
        self, since: int | Cursor | None = None
    ) -> AsyncGenerator[NotificationFrame]:
        """The user's notifications after the starting point, then live ones, for as long as
        the caller iterates. The starting point is the cursor store's cursor when it holds one
        (a restarted service resumes there), else ``since`` (a seq, or a ``Cursor`` with its
        epoch; ``0``: everything retained), else where this client's last stream stopped, else
        now (only what comes live)."""
        cursor = await self._starting_point(since)
        failures = 0
        while True:
            restart = False
            try:
                async with contextlib.aclosing(self._frames(cursor.seq)) as frames:
                    async for frame in frames:
                        kind = frame.get("type")
                        if kind == "welcome":
                            welcome = WelcomeFrame.model_validate(frame)
                            if cursor.epoch is not None and welcome.epoch != cursor.epoch:
                                self.listener.epoch_changed(cursor.epoch, welcome.epoch)
                                cursor = Cursor(welcome.epoch, 0)
                                await self._handled(cursor)
                                restart = True
                                break
                            seq = welcome.seq if cursor.seq is None else cursor.seq
                            cursor = Cursor(welcome.epoch, seq)
                            self.cursor = cursor
                            failures = 0
                            self.listener.connected(welcome, self.transport_in_use or "")
                        elif kind == "synced":
                            self.listener.synced(SyncedFrame.model_validate(frame))
                        elif kind == "error":
                            raise _stream_error(frame)
                        elif kind in CONTROL_FRAME_TYPES or not isinstance(kind, str):
                            continue
                        else:
                            number = frame.get("seq")
                            if not isinstance(number, int) or (
                                cursor.seq is not None and number <= cursor.seq
                            ):
                                continue  # already yielded: exactly once by seq
                            notification = NotificationFrame.model_validate(frame)
                            cursor = Cursor(cursor.epoch, number)
                            try:
                                yield notification
                            finally:
                                await self._handled(cursor)
                reason = "the stream ended"
                crowded = False
            except Disconnected as exc:
                reason, crowded = str(exc), isinstance(exc, Crowded)
            if restart:
                continue
            failures += 1
            if self.retry.gives_up(failures):
                raise RetriesExhausted(failures, reason)
            delay = self.retry.delay(failures)
            if crowded:  # another stream must close first: no quick retries
                delay = max(delay, self.retry.max_delay)
            self.listener.disconnected(reason, failures, delay)
            await asyncio.sleep(delay)

    async def _starting_point(self, since: int | Cursor | None) -> Cursor:
        if isinstance(since, bool) or (isinstance(since, int) and since < 0):
            raise BadRequest("since must be a seq: an integer of at least 0")
        if self.cursor_store is not None and (stored := await self.cursor_store.load()):
            return stored
        if isinstance(since, Cursor):
            return since
        if since is not None:
            return Cursor(None, since)
        return self.cursor

    async def _handled(self, cursor: Cursor) -> None:
        self.cursor = cursor
        if self.cursor_store is not None:
            await self.cursor_store.save(cursor)

    async def _frames(self, since: int | None) -> AsyncGenerator[Frame]:
        timeout = self.retry.connect_timeout
        if not self._sse:
            try:
                self.transport_in_use = "websocket"
                async for frame in websocket_frames(self.endpoint, self.token, since, timeout):
                    yield frame
                return
            except WebSocketRefused as exc:
                if self.transport == "websocket":
                    raise
                self._sse = True
                self.listener.fell_back(str(exc))
        self.transport_in_use = "sse"
        async for frame in sse_frames(self._http, self.endpoint, self.token, since, timeout):
            yield frame

    # -- commands -------------------------------------------------------------------------------

    async def ping(self) -> PongFrame:
        return await self._command("ping", PongFrame)

    async def ack(self, seq: int) -> AckedFrame:
        return await self._command("ack", AckedFrame, seq=seq)

    async def mark_read(
        self, ids: list[str] | None = None, *, up_to_seq: int | None = None, all: bool = False
    ) -> ReadFrame:
        """Mark notifications read: by ``ids``, up to a seq, or ``all``."""
        return await self._command("mark_read", ReadFrame, ids=ids, up_to_seq=up_to_seq, all=all)

    async def list_tasks(self, *, include_finished: bool = True) -> TaskListFrame:
        return await self._command("list_tasks", TaskListFrame, include_finished=include_finished)

    async def start_task(
        self, task_type: str, params: dict[str, Any] | None = None, *, task_id: str | None = None
    ) -> TaskFrame:
        return await self._command(
            "start_task", TaskFrame, task_type=task_type, params=params or {}, task_id=task_id
        )

    async def cancel_task(self, task_id: str) -> TaskFrame:
        return await self._command("cancel_task", TaskFrame, task_id=task_id)

    async def pause_task(self, task_id: str) -> TaskFrame:
        return await self._command("pause_task", TaskFrame, task_id=task_id)

    async def resume_task(self, task_id: str) -> TaskFrame:
        return await self._command("resume_task", TaskFrame, task_id=task_id)

    async def task_logs(self, task_id: str, *, limit: int = 200) -> TaskLogsFrame:
        return await self._command("task_logs", TaskLogsFrame, task_id=task_id, limit=limit)

    async def pause_learning(self, scope: LearningScope = "own") -> LearningFrame:
        return await self._command("pause_learning", LearningFrame, scope=scope)

    async def resume_learning(self, scope: LearningScope = "own") -> LearningFrame:
        return await self._command("resume_learning", LearningFrame, scope=scope)

    async def approve(self, approval_id: str, reason: str | None = None) -> ApprovalFrame:
        return await self._command("approve", ApprovalFrame, approval_id=approval_id, reason=reason)

    async def reject(self, approval_id: str, reason: str | None = None) -> ApprovalFrame:
        return await self._command("reject", ApprovalFrame, approval_id=approval_id, reason=reason)

    async def status(self) -> StatusFrame:
        return await self._command("status", StatusFrame)

    async def chat(self, text: str) -> ChatReplyFrame:
        """A plain sentence, as typed in the chat ("pause the backup")."""
        return await self._command("chat", ChatReplyFrame, text=text)

    async def _command(self, name: str, reply: type[R], **fields: Any) -> R:
        values = {k: v for k, v in fields.items() if v is not None}
        try:
            command = COMMANDS[name].model_validate({"type": name, **values})
        except ValidationError as exc:
            raise BadRequest(describe_validation(exc)) from None
        body = command.model_dump(exclude_none=True, exclude={"id"})
        if self._sse:
            frame = await self._rest.call(body)
        else:
            try:
                frame = await self._channel.call(body)
            except WebSocketRefused as exc:
                if self.transport == "websocket":
                    raise
                self._sse = True
                self.listener.fell_back(str(exc))
                frame = await self._rest.call(body)
        frame.pop("ref", None)
        expected = reply.model_fields["type"].annotation
        if frame.get("type") != getattr(expected, "__args__", (None,))[0]:
            raise GraceError(f"the server answered {name} with {frame.get('type')!r}")
        return reply.model_validate(frame)


def _stream_error(frame: Frame) -> Exception:
    """What an ``error`` frame on the stream means for the retry loop."""
    error = error_from(frame.get("code"), frame.get("message"))
    if isinstance(error, Unauthenticated | Forbidden):
        return error
    if isinstance(error, RateLimited):  # sent before the server closes with 4429
        return Crowded(f"too many streams open: {error.message}")
    return Disconnected(f"{error.code}: {error.message}")
