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


class SlowConsumer(GraceError):
    """The client fell behind and its stream was cut; it resumes from its last seq."""

    code = ErrorCode.SLOW_CONSUMER
    http_status = 503


#: The error class of every code a server sends, for clients to raise what they receive.
ERRORS_BY_CODE: dict[ErrorCode, type[GraceError]] = {
    ErrorCode.BAD_JSON: BadJSON,
    ErrorCode.BAD_REQUEST: BadRequest,
    ErrorCode.UNKNOWN_COMMAND: UnknownCommand,
    ErrorCode.UNAUTHENTICATED: Unauthenticated,
    ErrorCode.FORBIDDEN: Forbidden,
    ErrorCode.NOT_FOUND: NotFound,
    ErrorCode.CONFLICT: Conflict,
    ErrorCode.RATE_LIMITED: RateLimited,
    ErrorCode.TOO_LARGE: TooLarge,
    ErrorCode.UNAVAILABLE: Unavailable,
    ErrorCode.SLOW_CONSUMER: SlowConsumer,
    ErrorCode.INTERNAL: GraceError,
}


def error_from(code: object, message: object) -> GraceError:
    """The typed error for a code and message a server sent (``internal`` for a code this
    version does not know)."""
    try:
        kind = ERRORS_BY_CODE[ErrorCode(str(code))]
    except ValueError:
        kind = GraceError
    return kind(str(message))


class ClientError(Exception):
    """A failure the Python client (``grace_chat.client``) finds itself, not one a server sent."""


class BadURL(ClientError):
    """The server URL cannot be used: not ``http(s)://`` or ``ws(s)://``, no host, or nothing
    that speaks Grace answers there."""


class ConnectionLost(ClientError):
    """The connection closed before the server answered the command: it may or may not have
    been carried out."""


class RetriesExhausted(ClientError):
    """Every attempt the retry policy allowed failed; ``last`` says how the last one did."""

    def __init__(self, attempts: int, last: str) -> None:
        super().__init__(f"gave up after {attempts} attempts: {last}")
        self.attempts = attempts
        self.last = last


class Disconnected(ClientError):
    """A connection could not be opened, or closed: trying again may work."""


class WebSocketRefused(Disconnected):
    """The server, or a proxy in front of it, refused the WebSocket upgrade (SSE may pass)."""


class Crowded(Disconnected):
    """The user already has as many streams open as the server allows (close 4429, HTTP 429):
    trying again helps only after a long wait."""


class MissingExtra(ConfigError):
    """A feature was asked for whose optional libraries are not installed.

    The message names the feature, the missing distributions and the command that installs
    them: ``the learning system needs pypdf: pip install 'grace-chat[learning]'``.
    """

    def __init__(self, feature: str, extra: str, missing: list[str]) -> None:
        super().__init__(f"{feature} needs {', '.join(missing)}: pip install 'grace-chat[{extra}]'")
        self.feature = feature
        self.extra = extra
        self.missing = missing
