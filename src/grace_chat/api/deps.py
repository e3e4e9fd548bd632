"""FastAPI dependencies shared by the REST modules: who is calling."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

from fastapi import Depends, Request

from grace_chat.auth import Authenticator, Identity
from grace_chat.errors import Forbidden, Unauthenticated

#: A FastAPI dependency that answers who is calling (or raises ``Unauthenticated``).
CallerDependency: TypeAlias = Callable[..., Identity]


def caller_dependency(auth: Authenticator) -> CallerDependency:
    """Identity from the Bearer token or the session cookie (cookie requests from a foreign
    browser origin are refused), or ``?user_id=`` in no-auth development mode."""

    def identity(request: Request, user_id: str | None = None) -> Identity:
        cookie = request.cookies.get(auth.cookie_name)
        authorization = request.headers.get("authorization")
        if (
            cookie
            and not authorization
            and not auth.origin_allowed(request.headers.get("origin"), request.headers.get("host"))
        ):
            raise Forbidden("origin not allowed")
        found = auth.identify(authorization, cookie, user_id)
        if found is None:
            raise Unauthenticated("send 'Authorization: Bearer <token>'")
        return found

    return identity


def require_admin(caller: Identity) -> Identity:
    if not caller.admin:
        raise Forbidden("this endpoint needs an admin token (grace token --admin)")
    return caller


def admin_dependency(caller: CallerDependency) -> Callable[..., Identity]:
    """The caller, who must hold an admin token."""

    def admin(who: Identity = Depends(caller)) -> Identity:  # noqa: B008 (a local dependency)
        return require_admin(who)

    return admin
