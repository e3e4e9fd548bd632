"""FastAPI dependencies shared by the REST modules: who is calling."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeAlias

from fastapi import Depends, Request
from fastapi.security import HTTPBearer

from grace_chat.api.identity import Gate, require
from grace_chat.auth import Authenticator, Identity
from grace_chat.errors import Forbidden

#: A FastAPI dependency that answers who is calling (or raises ``Unauthenticated``).
CallerDependency: TypeAlias = Callable[..., Awaitable[Identity]]

#: The OpenAPI security scheme of every route that needs a caller: HTTP bearer, so that a
#: generated client sends ``Authorization: Bearer <token>`` and Swagger UI's Authorize works
#: with a Grace token. The header is read (and verified) by the ``Gate``, not by this object.
BEARER = HTTPBearer(
    scheme_name="bearer",
    bearerFormat="JWT",
    description="A Grace token (grace token USER), or the embedding host's own token",
    auto_error=False,
)


def caller_dependency(gate: Gate | Authenticator) -> CallerDependency:
    """Identity from the ``gate`` (the Bearer token, the session cookie, the host's own
    credentials; ``?user_id=`` in no-auth development mode); an ``Authenticator`` alone is a
    gate with Grace's own credentials only."""
    if isinstance(gate, Authenticator):
        gate = Gate(gate)
    door = gate

    async def identity(
        request: Request,
        user_id: str | None = None,
        _scheme: object = Depends(BEARER),
    ) -> Identity:
        return await require(door, request)

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
