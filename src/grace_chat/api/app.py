"""Grace's ASGI application: routes, error bodies and the lifespan that runs ``Grace``.

Error bodies are installed on Grace's own application only (``build_api``); an app that embeds
Grace mounts that application under a prefix (``grace_chat.api.embed``), so its own answers are
left alone.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException
from starlette.types import Lifespan

from grace_chat.api.absent import build_absent_router
from grace_chat.api.admin import build_admin_router
from grace_chat.api.chat import build_chat_router
from grace_chat.api.deps import caller_dependency
from grace_chat.api.digest import build_summary_router
from grace_chat.api.guardian import build_guardian_router
from grace_chat.api.healing import build_healing_router
from grace_chat.api.identity import Gate, HostIdentity
from grace_chat.api.learning import UPLOAD_PATH, build_learning_router
from grace_chat.api.limits import UPLOAD_FRAMING_BYTES, RequestLimits
from grace_chat.api.missions import build_mission_router
from grace_chat.api.openapi import document
from grace_chat.api.operations import build_operations_router
from grace_chat.api.preferences import build_preferences_router
from grace_chat.api.rest import build_router
from grace_chat.api.rest_control import build_control_router
from grace_chat.api.web import mount_web
from grace_chat.errors import BadJSON, ErrorCode, GraceError

if TYPE_CHECKING:
    from grace_chat.app import Grace

log = logging.getLogger("grace_chat.api")

#: The error code of an HTTP status that Starlette or FastAPI answers by themselves (no route,
#: wrong method, a body that cannot be parsed...); any other 4xx is ``bad_request``, 5xx
#: ``internal``.
STATUS_CODES: dict[int, ErrorCode] = {
    401: ErrorCode.UNAUTHENTICATED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    409: ErrorCode.CONFLICT,
    413: ErrorCode.TOO_LARGE,
    414: ErrorCode.TOO_LARGE,
    431: ErrorCode.TOO_LARGE,
    429: ErrorCode.RATE_LIMITED,
    503: ErrorCode.UNAVAILABLE,
}


def envelope(
    code: ErrorCode, message: str, status: int, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """Every error answer of the HTTP API: ``{"error": {"code": ..., "message": ...}}``."""
    return JSONResponse(
        {"error": {"code": code.value, "message": message}}, status_code=status, headers=headers
    )


def http_error(request: Request, exc: HTTPException) -> tuple[ErrorCode, str]:
    """The code and message for an ``HTTPException`` raised by Starlette or FastAPI."""
    status = exc.status_code
    cause = exc.__cause__
    if status == 400 and isinstance(cause, RecursionError):
        return BadJSON.code, "the JSON body is nested too deeply"
    if status == 400 and isinstance(cause, ValueError):  # UnicodeDecodeError and the like
        return BadJSON.code, "body is not valid JSON"
    if status == 404 and exc.detail == "Not Found":
        return ErrorCode.NOT_FOUND, f"no such path: {request.url.path}"
    if status == 405:
        allowed = ", ".join(allowed_methods(request, exc)) or "none"
        return (
            ErrorCode.UNKNOWN_COMMAND,
            f"{request.method} is not allowed on {request.url.path}; allowed: {allowed}",
        )
    if status >= 500:
        return STATUS_CODES.get(status, ErrorCode.INTERNAL), "internal error"
    return STATUS_CODES.get(status, ErrorCode.BAD_REQUEST), str(exc.detail)


def allowed_methods(request: Request, exc: HTTPException) -> list[str]:
    """Every method the request's path takes: those of every documented operation of that path
    (Starlette's own ``Allow`` names only the methods of the first route whose path matched),
    and Starlette's for a route the document leaves out."""
    root = request.scope.get("root_path", "")
    path = request.url.path
    if root and path.startswith(root):
        path = path[len(root) :]
    methods = {m.strip() for m in (exc.headers or {}).get("Allow", "").split(",") if m.strip()}
    for template, item in request.app.openapi().get("paths", {}).items():
        if _template(template).fullmatch(path):
            methods |= {m.upper() for m in item if m in HTTP_METHODS}
    return sorted(methods)


HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


@lru_cache(maxsize=512)
def _template(template: str) -> re.Pattern[str]:
    """An OpenAPI path template (``/api/tasks/{task_id}``) as a pattern of the paths it names."""
    parts = re.split(r"(\{[^}/]+\})", template)
    return re.compile("".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts))


#: The OpenAPI tags: one per system.
OPENAPI_TAGS = [
    {"name": "notifications", "description": "History, read state, streams, publishing"},
    {"name": "session", "description": "Who the caller is; the browser's session cookie"},
    {"name": "service", "description": "The protocol schema"},
    {"name": "preferences", "description": "Delivery modes per type, archived cards"},
    {"name": "tasks", "description": "Background tasks"},
    {"name": "approvals", "description": "The approval gateway"},
    {"name": "status", "description": "Every system's status"},
    {"name": "learning", "description": "Learning jobs"},
    {"name": "knowledge", "description": "What was learned"},
    {"name": "guardian", "description": "The health guardian"},
    {"name": "self-heal", "description": "Self-healing playbooks"},
    {"name": "missions", "description": "Mission control"},
    {"name": "chat", "description": "The unified chat"},
    {"name": "operations", "description": "Liveness, readiness, Prometheus metrics"},
    {"name": "admin", "description": "The operator view: every user's connections and work"},
]


def install_error_handlers(app: FastAPI) -> None:
    """Grace's error envelope for every error of ``app``: install it on Grace's own
    application, never on a host's."""

    async def grace_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, GraceError)
        retry = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
        return envelope(exc.code, exc.message, exc.http_status, headers=retry)

    async def starlette_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code in {204, 304}:  # not errors, and answers without a body
            return Response(status_code=exc.status_code, headers=exc.headers)
        code, message = http_error(request, exc)
        headers = exc.headers
        if exc.status_code == 405:
            headers = {**(headers or {}), "Allow": ", ".join(allowed_methods(request, exc))}
        return envelope(code, message, exc.status_code, headers=headers)

    async def invalid(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        problems = []
        code = "bad_request"
        for err in exc.errors()[:5]:
            if err.get("type") == "json_invalid":
                code = "bad_json"
                problems.append("body is not valid JSON")
                continue
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
            problems.append(f"{where}: {err.get('msg', 'invalid')}")
        return envelope(
            ErrorCode(code),
            "; ".join(problems) or "the request is not valid",
            BadJSON.http_status if code == "bad_json" else 422,
        )

    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        log.exception("request %s %s failed", request.method, request.url.path)
        return envelope(ErrorCode.INTERNAL, "internal error", 500)

    app.add_exception_handler(GraceError, grace_error)
    app.add_exception_handler(HTTPException, starlette_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(Exception, crashed)


def add_routes(grace: Grace, app: FastAPI, gate: Gate) -> None:
    """Grace's routes (each system's when that system is part of ``grace``) and request limits
    on ``app``, Grace's own application, whose OpenAPI document declares every route's error
    answers (``grace_chat.api.openapi``)."""
    install_limits(grace, app, gate)
    caller = caller_dependency(gate)
    app.include_router(build_router(grace, caller, gate))
    app.include_router(
        build_summary_router(grace.store, grace.preferences, grace.action_gateway, caller)
    )
    app.include_router(
        build_preferences_router(grace.preferences, grace.types, grace.backplane, caller)
    )
    app.include_router(
        build_control_router(grace.commands, grace.tasks, grace.action_gateway, caller)
    )
    app.include_router(
        build_admin_router(grace.hub, grace.tasks, grace.action_gateway, grace.guardian, caller)
    )
    if grace.learning is not None:
        app.include_router(build_learning_router(grace.learning, grace.commands, caller))
    if grace.guardian is not None:
        app.include_router(build_guardian_router(grace.guardian, caller))
    if grace.healer is not None:
        app.include_router(build_healing_router(grace.healer, caller))
    if grace.missions is not None:
        app.include_router(build_mission_router(grace.missions, caller))
    if grace.chat is not None:
        app.include_router(build_chat_router(grace.chat, caller))
    app.include_router(build_absent_router(grace.systems, grace.left_out))
    app.include_router(build_operations_router(grace.metrics, grace.auth, grace.settings))
    document(app)


def install_limits(grace: Grace, app: FastAPI, gate: Gate) -> None:
    """Identity before any body is read, and body caps (``grace_chat.api.limits``)."""
    caps: dict[str, int] = {}
    if grace.learning is not None:
        caps[UPLOAD_PATH] = grace.learning.config.max_bytes + UPLOAD_FRAMING_BYTES
    app.add_middleware(
        RequestLimits,
        gate=gate,
        max_body_bytes=grace.settings.max_body_bytes,
        body_timeout=grace.settings.body_timeout,
        caps=caps,
        metrics=grace.metrics,
    )


def build_api(
    grace: Grace,
    identity: HostIdentity | None = None,
    *,
    lifespan: Lifespan[FastAPI] | None = None,
    web: bool = False,
    api_base: str = "",
) -> FastAPI:
    """Grace's own application: its routes, its error bodies (on its routes only) and limits,
    identifying callers through a ``Gate`` (Grace's credentials, and ``identity``'s when given);
    with ``web``, the chat at ``/``, finding the API at ``api_base``."""
    gate = Gate(grace.auth, identity)
    app = FastAPI(
        title="Grace",
        version="1",
        summary="Two-way notifications between background systems and the chat.",
        lifespan=lifespan,
        openapi_tags=OPENAPI_TAGS,
    )
    add_routes(grace, app, gate)
    install_error_handlers(app)
    if web:
        mount_web(app, api_base=api_base)
    app.state.grace = grace
    app.state.gate = gate
    return app


def create_app(grace: Grace, identity: HostIdentity | None = None) -> FastAPI:
    """The application ``grace serve`` runs: Grace's API and the web chat at ``/``, its
    lifespan running ``grace``. To add Grace to an app of your own, see
    ``grace_chat.api.embed``."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with grace:
            yield

    return build_api(grace, identity, lifespan=lifespan, web=True)
