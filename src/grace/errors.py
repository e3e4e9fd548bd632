"""Every error Grace reports to a client, in one place.

Each error carries a stable ``code`` (part of protocol v1, see ``protocol.ErrorCode``), an HTTP
status for REST, and a message written for the person or developer on the other side. Messages
never contain internals (paths, SQL, tracebacks); those go to the server log only.
"""

from __future__ import annotations

from typing import ClassVar


class GraceError(Exception):
    """Base class: a failure that is the client's to know about."""

    code: ClassVar[str] = "internal"
    http_status: ClassVar[int] = 500

    def __init__(self, message: str = "internal error") -> None:
        super().__init__(message)
        self.message = message


class BadJSON(GraceError):
    code = "bad_json"
    http_status = 400


class BadRequest(GraceError):
    code = "bad_request"
    http_status = 400


class UnknownCommand(GraceError):
    code = "unknown_command"
    http_status = 400


class Unauthenticated(GraceError):
    code = "unauthenticated"
    http_status = 401


class Forbidden(GraceError):
    code = "forbidden"
    http_status = 403


class NotFound(GraceError):
    code = "not_found"
    http_status = 404


class Conflict(GraceError):
    code = "conflict"
    http_status = 409


class TooLarge(GraceError):
    code = "too_large"
    http_status = 413


class RateLimited(GraceError):
    code = "rate_limited"
    http_status = 429


class Unavailable(GraceError):
    """The command exists in the protocol but this server has no component wired to serve it."""

    code = "unavailable"
    http_status = 503


class ConfigError(Exception):
    """Invalid settings; raised at start-up, never sent to a client."""
