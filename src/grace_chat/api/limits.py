"""Request bodies under ``/api/``: who may send one, how big, how slowly.

An ASGI middleware in front of every route, so that nothing reads a body before these hold:

* **Identity first.** A request that carries a body (``Content-Length`` above 0, or a
  ``Transfer-Encoding``) must present a valid Bearer token or session cookie (or, in no-auth
  development mode, ``?user_id=``) before a byte of the body is read; otherwise it is answered
  401 ``unauthenticated`` (403 ``forbidden`` for a cookie from a foreign browser origin). The one
  exception is ``POST /api/session``, whose body *is* the token; it gets a small cap instead.
* **A cap.** ``max_body_bytes`` (learning uploads: ``[learning] max_bytes`` plus room for the
  multipart framing; ``POST /api/session``: ``SESSION_BODY_BYTES``). A declared
  ``Content-Length`` over the cap is refused before reading; a chunked body is counted as it is
  read and refused once it passes the cap.
* **No stalling.** While a route waits for the next part of a body, the client has
  ``body_timeout`` seconds to send it (408 ``bad_request`` after that).

A refused request is answered with the error envelope and ``Connection: close``: the rest of
its body is never read. The route that was reading it is stopped, and whatever it would have
answered is dropped. Given ``metrics``, each refusal is counted by its error code
(``body_timeout`` for a stalled body).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from grace_chat.api.identity import Gate
from grace_chat.errors import BadRequest, GraceError, TooLarge, Unauthenticated
from grace_chat.metrics import Metrics

log = logging.getLogger("grace_chat.api.limits")

PREFIX = "/api/"
SESSION_PATH = "/api/session"
#: ``POST /api/session`` carries a token (at most 8,192 characters) in a small JSON object.
SESSION_BODY_BYTES = 16 * 1024
#: Room for the multipart boundaries and part headers around uploaded documents.
UPLOAD_FRAMING_BYTES = 64 * 1024
#: Requests whose body may come without credentials: the body is the credential.
ANONYMOUS_BODIES = frozenset({("POST", SESSION_PATH)})


class _Refused(Exception):
    """Raised into the route reading a body that was just refused, to stop it."""


def error_response(status: int, error: GraceError) -> JSONResponse:
    """The error envelope with ``Connection: close``: the client's unread body is abandoned."""
    return JSONResponse(
        {"error": {"code": error.code.value, "message": error.message}},
        status_code=status,
        headers={"connection": "close"},
    )


def declared_length(headers: Headers) -> int | None:
    raw = headers.get("content-length")
    if raw is None:
        return None
    try:
        length = int(raw)
    except ValueError:
        raise BadRequest("Content-Length must be a number") from None
    if length < 0:
        raise BadRequest("Content-Length must be a number")
    return length


class RequestLimits:
    """``app.add_middleware(RequestLimits, gate=..., max_body_bytes=..., body_timeout=...)``.

    Paths are Grace's own, below the prefix the app is mounted at (``root_path``)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        gate: Gate,
        max_body_bytes: int,
        body_timeout: float,
        caps: Mapping[str, int] | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.gate = gate
        self.max_body_bytes = max_body_bytes
        self.body_timeout = body_timeout
        self.caps = {SESSION_PATH: SESSION_BODY_BYTES, **(caps or {})}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = route_path(scope) if scope["type"] == "http" else ""
        if not path.startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        cap = self.caps.get(path, self.max_body_bytes)
        try:
            length = declared_length(headers)
            if not (length or "transfer-encoding" in headers):
                await self.app(scope, receive, send)  # no body: nothing to guard
                return
            if (scope["method"], path) not in ANONYMOUS_BODIES:
                await self.identify(scope)
            if length is not None and length > cap:
                raise TooLarge(f"the request body is larger than {cap} bytes")
        except GraceError as exc:
            self.refused(exc.code.value)
            await error_response(exc.http_status, exc)(scope, receive, send)
            return
        await _GuardedBody(self, cap).run(scope, receive, send)

    def refused(self, reason: str) -> None:
        if self.metrics is not None:
            self.metrics.refusal(reason)

    async def identify(self, scope: Scope) -> None:
        """Raises unless the request names a caller, as the routes' own check would."""
        if await self.gate.identify(Request(scope)) is None:
            raise Unauthenticated("a request with a body needs 'Authorization: Bearer <token>'")


def route_path(scope: Scope) -> str:
    """The request's path below the prefix the app is mounted at."""
    path = str(scope["path"])
    root = str(scope.get("root_path", ""))
    return path[len(root) :] if root and path.startswith(root) else path


class _GuardedBody:
    """One request whose body is counted and timed as the route reads it."""

    __slots__ = ("_cap", "_done", "_limits", "_received", "_refusal", "_started")

    def __init__(self, limits: RequestLimits, cap: int) -> None:
        self._limits = limits
        self._cap = cap
        self._received = 0
        self._done = False
        self._started = False
        self._refusal: tuple[int, GraceError] | None = None

    async def run(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def receive_guarded() -> Message:
            if self._refusal is not None:
                return {"type": "http.disconnect"}
            if self._done:
                return await receive()  # after the body: only the disconnect is left to wait for
            try:
                async with asyncio.timeout(self._limits.body_timeout):
                    message = await receive()
            except TimeoutError:
                seconds = f"{self._limits.body_timeout:g}"
                self._refusal = (408, BadRequest(f"the request body stalled for {seconds} s"))
                raise _Refused from None
            if message["type"] == "http.request":
                self._received += len(message.get("body", b""))
                if self._received > self._cap:
                    self._refusal = (
                        413,
                        TooLarge(f"the request body is larger than {self._cap} bytes"),
                    )
                    raise _Refused
                self._done = not message.get("more_body", False)
            return message

        async def send_guarded(message: Message) -> None:
            if self._refusal is not None:
                return  # the route's own answer to a refused body is not sent
            if message["type"] == "http.response.start":
                self._started = True
            await send(message)

        try:
            await self._limits.app(scope, receive_guarded, send_guarded)
        except _Refused:
            pass
        except Exception:
            if self._refusal is None:
                raise
            # What the route raised once its body was taken away is not a failure of its own.
        if self._refusal is not None:
            status, error = self._refusal
            self._limits.refused("body_timeout" if status == 408 else error.code.value)
            if self._started:
                log.info("%s %s: %s after the answer began", scope["method"], scope["path"], error)
                return
            await error_response(status, error)(scope, receive, send)
