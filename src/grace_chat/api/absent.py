"""The routes of the background systems this server does not run.

A system left out because its extra is not installed answers every path under its routes with
503 ``unavailable`` naming the extra (``the learning system needs pypdf: pip install
'grace-chat[learning]'``), so a core install says what to install instead of "no such path". A
system simply not chosen (``Grace(systems=...)``) answers 404 ``not_found`` as an unknown path
does, saying that the system is not enabled on this server. These routes are left out of the
OpenAPI document: they are the absence of the system's own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping

from fastapi import APIRouter, Request

from grace_chat.errors import MissingExtra, NotFound, Unavailable

#: Each background system's route prefixes and how its absence is told.
SYSTEM_ROUTES: dict[str, tuple[str, tuple[str, ...]]] = {
    "learning": ("the learning system", ("/api/learning", "/api/knowledge")),
    "guardian": ("the health guardian", ("/api/guardian",)),
    "healing": ("self-heal", ("/api/healing",)),
    "missions": ("mission control", ("/api/missions",)),
    "chat": ("the unified chat", ("/api/unified",)),
}

_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def build_absent_router(
    running: Collection[str], left_out: Mapping[str, MissingExtra]
) -> APIRouter:
    """Routes for every system of ``SYSTEM_ROUTES`` not in ``running``: ``unavailable`` with the
    message of its ``MissingExtra`` when it is in ``left_out``, else ``not_found``."""
    router = APIRouter(include_in_schema=False)
    for system, (what, prefixes) in SYSTEM_ROUTES.items():
        if system in running:
            continue
        missing = left_out.get(system)
        for prefix in prefixes:
            answer = _answer(what, missing)
            router.add_api_route(prefix, answer, methods=_METHODS)
            router.add_api_route(prefix + "/{rest:path}", answer, methods=_METHODS)
    return router


def _answer(what: str, missing: MissingExtra | None) -> Callable[[Request], Awaitable[None]]:
    async def absent(request: Request) -> None:
        if missing is not None:
            raise Unavailable(str(missing))
        raise NotFound(f"no such path: {request.url.path} ({what} is not enabled on this server)")

    return absent
