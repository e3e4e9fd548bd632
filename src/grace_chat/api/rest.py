"""REST: history, unread count, read state, publishing for backend services, the protocol schema,
liveness (``/api/health``) and readiness (``/api/ready``: can the store write, and do the
brokers answer, the backplane's and the Celery executor's, when there are any?).

Every error body is ``{"error": {"code": ..., "message": ...}}`` with the protocol's codes.
"""

import asyncio
from typing import TYPE_CHECKING, Annotated, Any, Protocol, runtime_checkable

from fastapi import APIRouter, Depends, Query, Request, Response, WebSocket
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, JsonValue, RootModel
from sse_starlette import EventSourceResponse
from starlette.routing import WebSocketRoute

from grace_chat.api.deps import CallerDependency, admin_dependency
from grace_chat.api.identity import Gate
from grace_chat.api.openapi import ErrorBody, error_response
from grace_chat.api.session import parse_since
from grace_chat.api.sse import last_event_id, sse_response
from grace_chat.api.ws import notification_stream
from grace_chat.auth import Identity
from grace_chat.commands import CommandContext
from grace_chat.errors import BadRequest, GraceError, StoreUnavailable, Unavailable
from grace_chat.frames import NotificationFrame
from grace_chat.hub.backplane import Reachable
from grace_chat.notifications.model import Severity
from grace_chat.notifications.types import TYPE_SCHEMA
from grace_chat.protocol import MAX_SEQ, STREAM_PATH, MarkRead, Seq, protocol_schema

if TYPE_CHECKING:
    from grace_chat.app import Grace


class NotificationPage(BaseModel):
    items: list[NotificationFrame]
    seq: int = Field(description="latest seq of the user's log")
    first_seq: int = Field(description="oldest seq still retained")
    unread: int
    epoch: str
    has_more: bool


class UnreadCount(BaseModel):
    unread: int
    seq: int
    epoch: str


def whole(value: Any) -> Any:
    """A JSON number without a fraction (``7.0``) is an integer (JSON Schema says so); strict
    models take it as one."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


#: What marks something read: non-empty ``ids``, an ``up_to_seq`` or ``"all": true`` (at least
#: one; declared so that a client generator does not make a body the server refuses).
MARKS_SOMETHING: list[JsonValue] = [
    {"required": ["ids"], "properties": {"ids": {"type": "array", "minItems": 1}}},
    {
        "required": ["up_to_seq"],
        "properties": {"up_to_seq": {"type": "integer", "minimum": 0, "maximum": MAX_SEQ}},
    },
    {"required": ["all"], "properties": {"all": {"const": True}}},
]


class MarkReadBody(BaseModel):
    """Give ``ids``, ``up_to_seq`` or ``"all": true``."""

    # strict: a value of the wrong JSON type is refused, never coerced ("all": "yes")
    model_config = ConfigDict(
        extra="forbid", strict=True, json_schema_extra={"anyOf": MARKS_SOMETHING}
    )
    ids: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=1000)] | None = None
    up_to_seq: Annotated[Seq, BeforeValidator(whole)] | None = None
    all: bool = False


class MarkedRead(BaseModel):
    marked: int
    unread: int


class PublishBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    user_id: Annotated[str, Field(min_length=1, max_length=128)]
    type: Annotated[str, Field(min_length=1, max_length=64, json_schema_extra=TYPE_SCHEMA)]
    message: Annotated[str, Field(min_length=1, max_length=4000)]
    badge: Annotated[str, Field(max_length=16)] | None = None
    severity: Annotated[Severity, Field(strict=False)] | None = None
    title: Annotated[str, Field(max_length=200)] | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class Session(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # a Grace token is a JWT: base64url segments and dots
    token: Annotated[str, Field(min_length=1, max_length=8192, pattern=r"^[A-Za-z0-9_.=-]+$")]


class Whoami(BaseModel):
    user_id: str
    admin: bool


class Health(BaseModel):
    status: str
    epoch: str
    connections: int


class ProtocolSchema(RootModel[dict[str, Any]]):
    """Protocol v1 as a JSON Schema document."""


class Ready(BaseModel):
    status: str


@runtime_checkable
class WriteProbe(Protocol):
    """A store that can tell whether a write would succeed now (the embedded engine can)."""

    async def writable(self) -> None:
        """Return if a write can succeed; raise ``StoreUnavailable`` saying why not."""
        ...


def build_router(grace: "Grace", caller: CallerDependency, gate: Gate | None = None) -> APIRouter:
    """The notification routes: the stream (WebSocket, SSE), history, read state, publishing,
    the session cookie, the protocol schema and health. ``gate`` identifies the WebSocket stream
    (default: Grace's own credentials)."""
    router = APIRouter()

    Caller = Annotated[Identity, Depends(caller)]
    Admin = Annotated[Identity, Depends(admin_dependency(caller))]
    auth = grace.auth

    door = gate or Gate(auth)

    async def stream(websocket: WebSocket) -> None:
        await notification_stream(grace, websocket, door)

    # A plain Starlette route: no dependencies to solve, so an idle connection keeps fewer frames.
    router.routes.append(WebSocketRoute(STREAM_PATH, stream))

    @router.get(
        "/api/notifications/sse",
        tags=["notifications"],
        response_class=Response,
        responses={200: {"content": {"text/event-stream": {}}}},
        summary="Notification stream as Server-Sent Events",
    )
    async def sse(
        request: Request,
        caller: Caller,
        since: Annotated[int | None, Query(ge=0, le=MAX_SEQ)] = None,
    ) -> EventSourceResponse:
        header = last_event_id(request)
        if header:
            since = parse_since(header)
            if since is not None and since > MAX_SEQ:
                raise BadRequest(f"'Last-Event-ID' must be a seq of at most {MAX_SEQ}")
        return sse_response(grace, caller, since)

    @router.get(
        "/api/notifications",
        tags=["notifications"],
        response_model=NotificationPage,
        summary="History",
    )
    async def history(
        caller: Caller,
        since: Annotated[
            int | None,
            Query(
                ge=0,
                le=MAX_SEQ,
                description="oldest first, after this seq (with 'before': up to it)",
            ),
        ] = None,
        before: Annotated[
            int | None, Query(ge=1, le=MAX_SEQ, description="newest first, below this seq")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        user = caller.user_id
        if since is not None:
            items = await grace.store.read_since(user, since, limit + 1)
            if before is not None:  # the range between them, oldest first
                items = [n for n in items if n.seq < before]
        else:
            items = await grace.store.read_latest(user, limit + 1, before)
        head = await grace.store.head(user)
        return {
            "items": [n.frame() for n in items[:limit]],
            "seq": head.seq,
            "first_seq": head.first_seq,
            "unread": head.unread,
            "epoch": grace.store.epoch,
            "has_more": len(items) > limit,
        }

    @router.get("/api/notifications/unread", tags=["notifications"], response_model=UnreadCount)
    async def unread(caller: Caller) -> dict[str, Any]:
        head = await grace.store.head(caller.user_id)
        return {"unread": head.unread, "seq": head.seq, "epoch": grace.store.epoch}

    @router.post("/api/notifications/read", tags=["notifications"], response_model=MarkedRead)
    async def mark_read(who: Caller, body: MarkReadBody) -> dict[str, Any]:
        command = MarkRead(type="mark_read", ids=body.ids, up_to_seq=body.up_to_seq, all=body.all)
        ctx = CommandContext(identity=who, channel="rest")
        return await grace.commands.dispatch(ctx, command)

    @router.post(
        "/api/notifications/publish",
        tags=["notifications"],
        response_model=NotificationFrame,
        status_code=201,
        summary="Notify a user (backend services; admin token)",
    )
    async def publish(body: PublishBody, who: Admin) -> Any:
        stored = await grace.notify_user(
            body.user_id,
            body.type,
            body.message,
            body.badge,
            body.data,
            body.severity,
            body.title,
        )
        return stored.frame()

    @router.post(
        "/api/session",
        tags=["session"],
        status_code=204,
        summary="Exchange a token for a session cookie",
        responses={401: error_response(401)},
    )
    async def session(body: Session, request: Request) -> Response:
        auth.tokens.verify(body.token)
        response = Response(status_code=204)
        response.set_cookie(
            auth.cookie_name,
            body.token,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            max_age=auth.ttl,
        )
        return response

    @router.get(
        "/api/session", tags=["session"], response_model=Whoami, summary="Who the caller is"
    )
    async def whoami(caller: Caller) -> dict[str, Any]:
        return {"user_id": caller.user_id, "admin": caller.admin}

    @router.delete(
        "/api/session",
        tags=["session"],
        status_code=204,
        summary="Sign out: drop the session cookie",
    )
    async def sign_out() -> Response:
        response = Response(status_code=204)
        response.delete_cookie(auth.cookie_name, httponly=True, samesite="strict")
        return response

    @router.get(
        "/api/protocol",
        tags=["service"],
        response_model=ProtocolSchema,
        summary="Protocol v1 as JSON Schema",
    )
    async def protocol() -> dict[str, Any]:
        return protocol_schema()

    @router.get(
        "/api/ready",
        response_model=Ready,
        tags=["operations"],
        summary="Readiness: 200 when the store can write and the broker (if any) answers",
        responses={
            503: {
                "model": ErrorBody,
                "description": "unavailable: the message names the part that is not ready",
            }
        },
    )
    async def ready() -> dict[str, Any]:
        await readiness(grace)
        return {"status": "ready"}

    @router.get(
        "/api/health",
        response_model=Health,
        tags=["operations"],
        summary="Liveness: the server answers",
    )
    async def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "epoch": grace.store.epoch,
            "connections": grace.hub.connection_count(),
        }

    return router


async def readiness(grace: "Grace") -> None:
    """Return when the store can write (a real query) and the brokers, when there are any (the
    backplane's, the Celery executor's), answer; raise ``Unavailable`` naming each part that is
    not ready (``Retry-After``: the store's)."""
    checks: dict[str, Any] = {}
    if isinstance(grace.store, WriteProbe):
        checks["store"] = grace.store.writable()
    if isinstance(grace.backplane, Reachable):
        checks["broker"] = grace.backplane.reachable()
    for name, executor in grace.tasks.executors.items():
        if isinstance(executor, Reachable):
            checks[f"{name} broker"] = executor.reachable()
    results = await asyncio.gather(*checks.values(), return_exceptions=True)
    failed: dict[str, GraceError] = {}
    for name, result in zip(checks, results, strict=True):
        if isinstance(result, GraceError):
            failed[name] = result
        elif isinstance(result, BaseException):
            raise result
    if not failed:
        return
    message = "not ready: " + "; ".join(f"{name}: {e.message}" for name, e in failed.items())
    if isinstance(failed.get("store"), StoreUnavailable):
        raise StoreUnavailable(message)
    raise Unavailable(message)
