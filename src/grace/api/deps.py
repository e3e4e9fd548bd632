"""FastAPI dependencies shared by the REST modules: who is calling."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from fastapi import Request

from grace.auth import Identity, origin_allowed
from grace.errors import Forbidden, Unauthenticated

if TYPE_CHECKING:
    from grace.app import Grace


def caller_dependency(grace: Grace) -> Callable[..., Identity]:
    """Identity from the Bearer token or the session cookie (cookie requests from a foreign
    browser origin are refused), or ``?user_id=`` in no-auth development mode."""

    def identity(request: Request, user_id: str | None = None) -> Identity:
        cookie = request.cookies.get(grace.cookie_name)
        authorization = request.headers.get("authorization")
        if (
            cookie
            and not authorization
            and not origin_allowed(
                request.headers.get("origin"),
                request.headers.get("host"),
                grace.settings.allowed_origins,
            )
        ):
            raise Forbidden("origin not allowed")
        found = grace.identify(authorization, cookie, user_id)
        if found is None:
            raise Unauthenticated("send 'Authorization: Bearer <token>'")
        return found

    return identity


def require_admin(caller: Identity) -> Identity:
    if not caller.admin:
        raise Forbidden("this endpoint needs an admin token (grace token --admin)")
    return caller
