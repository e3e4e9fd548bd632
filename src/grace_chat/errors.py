"""Every error Grace reports to a client, in one place.

Each error carries a stable ``code`` (an ``ErrorCode``, part of protocol v1), an HTTP
status for REST, and a message written for the person or developer on the other side. Messages
never contain internals (paths, SQL, tracebacks); those go to the server log only.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar


class ErrorCode(StrEnum):
    """Every error code a client can receive, declared once (protocol v1)."""

    BAD_JSON = "bad_json"
    BAD_REQUEST = "bad_request"
    UNKNOWN_COMMAND = "unknown_command"
    UNAUTHENTICATED = "unauthenticated"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    RATE_LIMITED = "rate_limited"
    TOO_LARGE = "too_large"
    UNAVAILABLE = "unavailable"
    SLOW_CONSUMER = "slow_consumer"
    INTERNAL = "internal"


class GraceError(Exception):
    """Base class: a failure that is the client's to know about."""

    code: ClassVar[ErrorCode] = ErrorCode.INTERNAL
    http_status: ClassVar[int] = 500
    #: Seconds after which trying again may work (REST sends it as ``Retry-After``); ``None``:
    #: trying again will not help by itself.
    retry_after: ClassVar[int | None] = None

    def __init__(self, message: str = "internal error") -> None:
        super().__init__(message)
        self.message = message


class BadJSON(GraceError):
    code = ErrorCode.BAD_JSON
    http_status = 400


class BadRequest(GraceError):
    code = ErrorCode.BAD_REQUEST
    http_status = 400


class UnknownCommand(GraceError):
    code = ErrorCode.UNKNOWN_COMMAND
    http_status = 400


class Unauthenticated(GraceError):
    code = ErrorCode.UNAUTHENTICATED
    http_status = 401


class Forbidden(GraceError):
    code = ErrorCode.FORBIDDEN
    http_status = 403


class NotFound(GraceError):
    code = ErrorCode.NOT_FOUND
    http_status = 404


class Conflict(GraceError):
    code = ErrorCode.CONFLICT
    http_status = 409


class TooLarge(GraceError):
    code = ErrorCode.TOO_LARGE
    http_status = 413


class RateLimited(GraceError):
    code = ErrorCode.RATE_LIMITED
    http_status = 429


class Unavailable(GraceError):
    """The command exists in the protocol but this server has no component wired to serve it, or
    (``StoreUnavailable``) cannot serve it right now."""

    code = ErrorCode.UNAVAILABLE
    http_status = 503


class StoreUnavailable(Unavailable):
    """The store cannot write: the disk is full, the data directory is read-only or gone.

    Nothing was stored by the call that gets it; once the store can write again, the same call
    succeeds. The message says which of those it is, never a path.
    """

    retry_after = 30


class ConfigError(Exception):
    """Invalid settings; raised at start-up, never sent to a client."""


def error_for(code: str, message: str) -> GraceError:
    """The error a client would get for ``code`` (an ``ErrorCode`` value) with ``message``: how
    an error raised in another process of the cluster is raised again here. An unknown code is
    an internal error."""
    kinds: dict[str, type[GraceError]] = {}
    pending: list[type[GraceError]] = [GraceError]
    while pending:
        kind = pending.pop()
        kinds.setdefault(kind.code.value, kind)
        pending.extend(kind.__subclasses__())
    return kinds.get(code, GraceError)(message)
