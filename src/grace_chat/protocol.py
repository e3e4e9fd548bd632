"""Protocol v1: the frames that cross ``/api/notifications/stream`` (and, for notifications, SSE).

One module that the server, the Python client and (through ``protocol_schema()``) the TypeScript
client agree on.

* Frames are JSON objects in WebSocket text messages. The server may pack several frames into one
  message separated by ``\\n``; JSON never contains a raw newline, so clients split on it.
* Every client command may carry ``id`` (string or integer); the answer carries it back as ``ref``.
* A frame whose ``type`` is one of ``CONTROL_FRAME_TYPES`` is a control frame; every other server
  frame is a notification (it always has ``id`` and ``seq``). Notification types may therefore
  never take a control frame's name; the type registry enforces that.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Annotated, Any, Literal, get_args

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from grace_chat.errors import BadJSON, BadRequest, ErrorCode, GraceError, TooLarge, UnknownCommand
from grace_chat.frames import FRAMES

PROTOCOL_VERSION = 1

#: The published schema's ``$id``: stable for a protocol version, changed only with it.
SCHEMA_ID = f"https://grace-chat.dev/schemas/protocol/v{PROTOCOL_VERSION}/protocol.schema.json"

#: Where the notification stream (WebSocket) is served.
STREAM_PATH = "/api/notifications/stream"

#: The largest integer a command may carry where it is a position in a log (``seq``, ``since``,
#: ``up_to_seq``): the top of the store's signed 64-bit range. Larger numbers are ``bad_request``.
MAX_SEQ = 2**63 - 1

#: A ``seq`` (or a ``since``): a non-negative integer the store can hold.
Seq = Annotated[int, Field(ge=0, le=MAX_SEQ)]


class CloseCode(IntEnum):
    GOING_AWAY = 1001
    TOO_LARGE = 1009
    INTERNAL_ERROR = 1011
    SLOW_CONSUMER = 4008
    UNAUTHENTICATED = 4401
    FORBIDDEN = 4403
    TOO_MANY_CONNECTIONS = 4429


#: RFC 6455: a close frame's payload is at most 125 bytes, two of which hold the code.
MAX_CLOSE_REASON_BYTES = 123
_ELLIPSIS = "…"


def close_reason(reason: str) -> str:
    """``reason`` as a close frame can carry it: at most ``MAX_CLOSE_REASON_BYTES`` of UTF-8.

    A longer reason is cut at a character boundary and ends with ``…``; what UTF-8 cannot encode
    (a lone surrogate) becomes ``?``. Every close the server starts goes through this: the
    WebSocket library raises instead of closing on a longer reason, and reasons may quote what a
    client sent.
    """
    data = reason.encode("utf-8", "replace")
    if len(data) > MAX_CLOSE_REASON_BYTES:
        room = MAX_CLOSE_REASON_BYTES - len(_ELLIPSIS.encode())
        return data[:room].decode("utf-8", "ignore") + _ELLIPSIS
    return data.decode()


#: Server frames that are not notifications.
CONTROL_FRAME_TYPES = frozenset(
    {
        "welcome",
        "synced",
        "pong",
        "error",
        "acked",
        "read",
        "task_list",
        "task",
        "task_logs",
        "approval",
        "learning",
        "status",
        "chat_reply",
        "preferences",
        "hello",
    }
)

Ref = str | int


class Command(BaseModel):
    """Base of every client frame: ``type`` plus an optional correlation ``id``.

    Strict: a field of the wrong JSON type is refused, never coerced (``"all": "yes"`` must not
    mark everything read, ``"seq": "10"`` is not a number).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    #: Every concrete command narrows this to its own ``Literal`` name.
    type: str
    id: Annotated[str, Field(max_length=128)] | int | None = None


class Hello(Command):
    type: Literal["hello"]
    token: Annotated[str, Field(max_length=8192)] | None = None
    since: Seq | None = None


class Ping(Command):
    type: Literal["ping"]


class Ack(Command):
    type: Literal["ack"]
    seq: Seq


class MarkRead(Command):
    type: Literal["mark_read"]
    ids: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=1000)] | None = None
    up_to_seq: Seq | None = None
    all: bool = False


class ListTasks(Command):
    type: Literal["list_tasks"]
    include_finished: bool = True


class _TaskCommand(Command):
    task_id: Annotated[str, Field(min_length=1, max_length=128)]


class CancelTask(_TaskCommand):
    type: Literal["cancel_task"]


class PauseTask(_TaskCommand):
    type: Literal["pause_task"]


class ResumeTask(_TaskCommand):
    type: Literal["resume_task"]


class TaskLogs(_TaskCommand):
    type: Literal["task_logs"]
    limit: Annotated[int, Field(ge=1, le=5000)] = 200


class StartTask(Command):
    type: Literal["start_task"]
    task_type: Annotated[str, Field(min_length=1, max_length=64)]
    params: dict[str, Any] = Field(default_factory=dict)
    task_id: Annotated[str, Field(min_length=1, max_length=128)] | None = None


#: Whose learning ``pause_learning`` / ``resume_learning`` change: the caller's own (default) or
#: everyone's (``all``: admins only, else ``forbidden``).
LearningScope = Literal["own", "all"]


class PauseLearning(Command):
    type: Literal["pause_learning"]
    scope: LearningScope = "own"


class ResumeLearning(Command):
    type: Literal["resume_learning"]
    scope: LearningScope = "own"


class _Decision(Command):
    approval_id: Annotated[str, Field(min_length=1, max_length=128)]
    reason: Annotated[str, Field(max_length=2000)] | None = None


class Approve(_Decision):
    type: Literal["approve"]


class Reject(_Decision):
    type: Literal["reject"]


class Status(Command):
    type: Literal["status"]


class Chat(Command):
    type: Literal["chat"]
    text: Annotated[str, Field(min_length=1, max_length=4000)]


def _command_name(model: type[Command]) -> str:
    (name,) = get_args(model.model_fields["type"].annotation)
    return str(name)


COMMANDS: dict[str, type[Command]] = {
    _command_name(model): model
    for model in (
        Hello,
        Ping,
        Ack,
        MarkRead,
        ListTasks,
        CancelTask,
        PauseTask,
        ResumeTask,
        TaskLogs,
        StartTask,
        PauseLearning,
        ResumeLearning,
        Approve,
        Reject,
        Status,
        Chat,
    )
}


def parse_command(raw: str | bytes, *, max_bytes: int) -> Command:
    """Parse one client frame, raising a ``GraceError`` whose message is safe to show."""
    size = len(raw.encode()) if isinstance(raw, str) else len(raw)
    if size > max_bytes:
        raise TooLarge(f"frame is {size} bytes; the limit is {max_bytes}")
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadJSON("frame is not valid JSON") from None
    if not isinstance(value, dict):
        raise BadRequest("frame must be a JSON object")
    kind = value.get("type")
    if not isinstance(kind, str):
        raise BadRequest("frame needs a string field 'type'")
    model = COMMANDS.get(kind)
    if model is None:
        known = ", ".join(sorted(COMMANDS))
        raise UnknownCommand(f"unknown command {kind[:40]!r}; known commands: {known}")
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise BadRequest(describe_validation(exc)) from None


def ref_of(raw: str | bytes) -> Ref | None:
    """Best-effort ``id`` of a frame that failed validation, so its error can carry ``ref``."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    ref = value.get("id") if isinstance(value, dict) else None
    if isinstance(ref, bool) or not isinstance(ref, str | int):
        return None
    return ref if not isinstance(ref, str) or len(ref) <= 128 else None


def describe_validation(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "frame"
        if err["type"] == "extra_forbidden":
            parts.append(f"unexpected field '{where}'")
        else:
            parts.append(f"field '{where}': {err['msg']}")
    return "; ".join(parts)


def error_frame(err: GraceError, ref: Ref | None = None) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "error", "code": err.code, "message": err.message}
    if ref is not None:
        frame["ref"] = ref
    return frame


def encode(frame: dict[str, Any]) -> str:
    return orjson.dumps(frame).decode()


def dumps(frame: dict[str, Any]) -> bytes:
    """A frame as UTF-8 JSON, the form connections queue and write."""
    return orjson.dumps(frame)


def protocol_schema() -> dict[str, Any]:
    """JSON Schema of every client command and every server frame (``grace_chat.frames``), plus the
    enums, for clients to check against.

    Each entry under ``commands`` and ``frames`` is a complete schema of its own (its ``$ref``s
    point into its own ``$defs``). Shipped in the wheel (``grace_chat/schema``), the npm client
    (``grace-chat-client/protocol.schema.json``) and served at ``/api/protocol``."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": f"Grace notification protocol v{PROTOCOL_VERSION}",
        "description": (
            "Client commands (commands) and server frames (frames) of the notification stream "
            f"{STREAM_PATH} (WebSocket) and /api/notifications/sse (frames only)."
        ),
        "protocol": PROTOCOL_VERSION,
        "commands": {name: model.model_json_schema() for name, model in COMMANDS.items()},
        "frames": {name: model.model_json_schema() for name, model in FRAMES.items()},
        "error_codes": [c.value for c in ErrorCode],
        "close_codes": {c.name.lower(): c.value for c in CloseCode},
        "control_frames": sorted(CONTROL_FRAME_TYPES),
    }
