"""The ASGI application: routes, error bodies and the lifespan that runs ``Grace``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from grace.api.chat import build_chat_router
from grace.api.deps import caller_dependency
from grace.api.digest import build_summary_router
from grace.api.guardian import build_guardian_router
from grace.api.healing import build_healing_router
from grace.api.learning import build_learning_router
from grace.api.missions import build_mission_router
from grace.api.preferences import build_preferences_router
from grace.api.rest import build_router
from grace.api.rest_control import build_control_router
from grace.api.web import mount_web
from grace.errors import BadJSON, GraceError

if TYPE_CHECKING:
    from grace.app import Grace

log = logging.getLogger("grace.api")


def install_error_handlers(app: FastAPI) -> None:
    async def grace_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, GraceError)
        return JSONResponse(
            {"error": {"code": exc.code, "message": exc.message}}, status_code=exc.http_status
        )

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
        return JSONResponse(
            {"error": {"code": code, "message": "; ".join(problems)}},
            status_code=BadJSON.http_status if code == "bad_json" else 422,
        )

    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        log.exception("request %s %s failed", request.method, request.url.path)
        return JSONResponse(
            {"error": {"code": "internal", "message": "internal error"}}, status_code=500
        )

    app.add_exception_handler(GraceError, grace_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(Exception, crashed)


def mount(grace: Grace, app: FastAPI) -> None:
    """Add Grace's routes and error bodies to an existing FastAPI app (library use).

    The host app's lifespan must run ``async with grace:``. Each system's routes are added when
    that system is part of ``grace``.
    """
    caller = caller_dependency(grace.auth)
    app.include_router(build_router(grace, caller))
    app.include_router(
        build_summary_router(grace.store, grace.preferences, grace.action_gateway, caller)
    )
    app.include_router(
        build_preferences_router(grace.preferences, grace.types, grace.backplane, caller)
    )
    app.include_router(
        build_control_router(grace.commands, grace.tasks, grace.action_gateway, caller)
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
    install_error_handlers(app)


def create_app(grace: Grace) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with grace:
            yield

    app = FastAPI(
        title="Grace",
        version="1",
        summary="Two-way notifications between background systems and the chat.",
        lifespan=lifespan,
    )
    mount(grace, app)
    mount_web(app)
    app.state.grace = grace
    return app
