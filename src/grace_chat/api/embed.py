"""Grace inside a host's FastAPI app, leaving the host as it was.

``mount_grace(host, grace, prefix="/grace")`` mounts Grace's own application (``build_api``) as
a sub-application at ``prefix``: every HTTP, WebSocket and SSE path of Grace is under it
(``/grace/api/notifications``, ``/grace/api/notifications/stream``...), and so are Grace's error
bodies, request limits and OpenAPI document (``/grace/openapi.json``, ``/grace/docs``). The
host's routes, exception handlers (its 422, 404, 500), middleware and OpenAPI document are
untouched: Grace's paths do not appear in the host's document (a client generator reads
Grace's own). Nothing of the host is shadowed (Grace answers only below ``prefix``, which must
not be one of the host's paths) and nothing of Grace is (``mount_grace`` refuses a prefix under
which the host already answers).

A mounted sub-application rather than an ``APIRouter`` included in the host: FastAPI's exception
handlers and middleware belong to an application, so only a sub-application keeps Grace's error
envelope and body limits on Grace's routes alone; a router's routes would be answered by the
host's handlers, or Grace's would be installed on the host.

``embed(host, settings, systems=...)`` builds the ``Grace`` too: the host names the systems it
wants (``systems=()`` for notifications, tasks and approvals alone), and nothing else is built
or started. Grace starts and stops with the host: its start-up runs before the host's own
lifespan, its shut-down after it (``lifespan=False`` leaves that to the host's lifespan, with
``async with grace:``).

``identity`` (``grace_chat.api.identity``) adds the host's credentials to Grace's own for every
door; ``HostJWT`` (``grace_chat.api.hostjwt``) is a ready-made one for the host's own JWT.
``web`` mounts the chat at a path of the host (it may be ``prefix``), finding its API under
``prefix``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import fastapi.routing
from fastapi import FastAPI
from starlette.routing import BaseRoute, Match

from grace_chat.api.app import build_api
from grace_chat.api.identity import HostIdentity
from grace_chat.api.web import mount_web

if TYPE_CHECKING:
    from grace_chat.app import Grace
    from grace_chat.config import Settings


def check_prefix(prefix: str) -> str:
    """A mount path: starts with ``/``, no trailing ``/``, not the root."""
    if not prefix.startswith("/") or prefix.rstrip("/") == "" or "?" in prefix:
        raise ValueError(f"a prefix is a path such as '/grace', not {prefix!r}")
    return prefix.rstrip("/")


def _paths(routes: list[BaseRoute]) -> list[object]:
    """The host's route paths, those of included routers with their prefixes (FastAPI keeps
    included routers as one entry each since 0.16x: ``iter_route_contexts`` flattens them)."""
    contexts = getattr(fastapi.routing, "iter_route_contexts", None)
    if contexts is None:
        return [getattr(route, "path", None) for route in routes]
    return [context.path for context in contexts(routes)]


def _shadowed(routes: list[BaseRoute], prefix: str) -> list[str]:
    """The host's routes that answer a path at or under ``prefix``."""
    found = [
        path
        for path in _paths(routes)
        if isinstance(path, str) and (path == prefix or path.startswith(prefix + "/"))
    ]
    for probe in (prefix, prefix + "/", prefix + "/api/health"):
        for route in routes:
            for kind in ("http", "websocket"):
                scope = {"type": kind, "path": probe, "method": "GET", "root_path": ""}
                if route.matches(scope)[0] is Match.FULL:
                    found.append(getattr(route, "path", repr(route)))
    return sorted(set(found))


def mount_grace(
    host: FastAPI,
    grace: Grace,
    *,
    prefix: str = "/grace",
    identity: HostIdentity | None = None,
    web: str | None = None,
    lifespan: bool = True,
) -> FastAPI:
    """Mount ``grace`` into ``host`` at ``prefix`` (see the module); returns Grace's own
    application (its OpenAPI document is ``app.openapi()``)."""
    prefix = check_prefix(prefix)
    taken = _shadowed(host.router.routes, prefix)
    if taken:
        raise ValueError(f"the host already answers under {prefix}: {', '.join(taken)}")
    web_path = check_prefix(web) if web is not None else None
    app = build_api(grace, identity, web=web_path == prefix, api_base=prefix)
    host.mount(prefix, app, name="grace")
    if web_path is not None and web_path != prefix:
        if _shadowed(host.router.routes, web_path):
            raise ValueError(f"the host already answers under {web_path}")
        chat = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
        mount_web(chat, api_base=prefix)
        host.mount(web_path, chat, name="grace-web")
    if lifespan:
        run_with_host(host, grace)
    return app


def run_with_host(host: FastAPI, grace: Grace) -> None:
    """Start ``grace`` before the host's own lifespan and stop it after."""
    inner = host.router.lifespan_context

    @asynccontextmanager
    async def both(app: Any) -> AsyncIterator[Any]:
        async with grace, inner(app) as state:
            yield state

    host.router.lifespan_context = both


def embed(
    host: FastAPI,
    settings: Settings | None = None,
    *,
    systems: Collection[str],
    prefix: str = "/grace",
    identity: HostIdentity | None = None,
    web: str | None = None,
    lifespan: bool = True,
    **options: Any,
) -> Grace:
    """Build a ``Grace`` with exactly ``systems`` (``options`` go to ``Grace``: ``types``,
    ``rules``, ``interpreter``...) and mount it into ``host`` (``mount_grace``)."""
    from grace_chat.app import Grace

    if isinstance(systems, (str, bool)):
        raise TypeError("systems is a collection of system names, such as {'chat'} or ()")
    grace = Grace(settings, systems=systems, **options)
    mount_grace(host, grace, prefix=prefix, identity=identity, web=web, lifespan=lifespan)
    return grace
