"""Who is calling, for every door: REST, SSE, both WebSocket paths, the chat and uploads.

A ``Gate`` answers it from a connection (a Starlette ``HTTPConnection``: a request or a
WebSocket). Grace's own credentials always count: its signed token as ``Authorization: Bearer``
or in the session cookie (and, in ``--no-auth`` development mode, ``?user_id=``). An embedding
host adds its own with a ``HostIdentity``: a callable that turns the host's request (its session
cookie, its own JWT) into a Grace ``Identity``.

Guarantees: an identity comes only from credentials a verifier checked (Grace's secret or the
host's callable), never from what the client claims; an expired, malformed or foreign token
raises ``Unauthenticated`` (HTTP 401, WebSocket close 4401) with a message that says which; a
request that relies on a cookie (Grace's or the host's) from a foreign browser origin raises
``Forbidden``; the host's callable is asked first, and Grace's own credentials are checked when
it answers ``None``.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol, TypeAlias, runtime_checkable

import jwt
from starlette.requests import HTTPConnection

from grace_chat.auth import ISSUER, Authenticator, Identity
from grace_chat.errors import Forbidden, Unauthenticated

#: The host's way to say who a request is: an ``Identity``, or ``None`` when the request carries
#: none of the host's credentials; raises ``Unauthenticated`` for bad ones. May be ``async``.
HostIdentity: TypeAlias = Callable[[HTTPConnection], "Identity | Awaitable[Identity | None] | None"]


@runtime_checkable
class TokenVerifier(Protocol):
    """A host identity that can also check a bare token (sent in a WebSocket ``hello``)."""

    def owns(self, token: str) -> bool:
        """Whether ``token`` is one of the host's (not Grace's) tokens; no verification."""
        ...

    async def verify_token(self, token: str) -> Identity:
        """The identity in ``token``; raises ``Unauthenticated`` when it is not valid."""
        ...


def issued_by_grace(token: str) -> bool:
    """Whether an (unverified) token names Grace as its issuer: which verifier must check it."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return False
    return isinstance(claims, dict) and claims.get("iss") == ISSUER


class Gate:
    """Identity for every door of one mounted Grace (see the module's guarantees)."""

    def __init__(self, auth: Authenticator, host: HostIdentity | None = None) -> None:
        self.auth = auth
        self.host = host

    async def identify(self, conn: HTTPConnection) -> Identity | None:
        """Who ``conn`` is; ``None`` when it carries no credentials at all."""
        self._refuse_foreign_cookie(conn)
        if self.host is not None:
            found = self.host(conn)
            if inspect.isawaitable(found):
                found = await found
            if found is not None:
                return found
        return self._own(conn)

    def identify_now(self, conn: HTTPConnection) -> Identity | None:
        """``identify`` without waiting, for a gate with no host identity (``grace serve``)."""
        if self.host is not None:
            raise RuntimeError("a gate with a host identity identifies asynchronously")
        self._refuse_foreign_cookie(conn)
        return self._own(conn)

    def _refuse_foreign_cookie(self, conn: HTTPConnection) -> None:
        """A request that relies on a cookie (Grace's; with a host identity, any) must come from
        an allowed browser origin."""
        cookie = conn.cookies.get(self.auth.cookie_name) or (self.host is not None and conn.cookies)
        if (
            cookie
            and not conn.headers.get("authorization")
            and not self.auth.origin_allowed(conn.headers.get("origin"), conn.headers.get("host"))
        ):
            raise Forbidden("origin not allowed")

    def _own(self, conn: HTTPConnection) -> Identity | None:
        """Grace's own credentials: its token (header or cookie), ``?user_id=`` in no-auth mode."""
        return self.auth.identify(
            conn.headers.get("authorization"),
            conn.cookies.get(self.auth.cookie_name),
            conn.query_params.get("user_id"),
        )

    async def verify_token(self, token: str) -> Identity:
        """The identity in a bare token (a ``hello`` frame's): the host's when it owns it."""
        host = self.host
        if isinstance(host, TokenVerifier) and not issued_by_grace(token) and host.owns(token):
            return await host.verify_token(token)
        return self.auth.tokens.verify(token)


async def require(gate: Gate, conn: HTTPConnection) -> Identity:
    """Who ``conn`` is; raises ``Unauthenticated`` when it carries no credentials."""
    found = await gate.identify(conn)
    if found is None:
        raise Unauthenticated("send 'Authorization: Bearer <token>'")
    return found


def websocket_connection(
    path: str, query: bytes, headers: Iterable[tuple[str, str]]
) -> HTTPConnection:
    """A Starlette view of a WebSocket handshake served without ASGI (``ws_native``), so that a
    host identity reads it as it reads any request."""
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    scope = {"type": "websocket", "path": path, "query_string": query, "headers": raw}
    return HTTPConnection(scope)
