"""Credentials never reach a log line: a ``logging.Filter`` that blanks tokens out of every record.

What it removes: the value of a ``token=`` (or ``access_token=``, ``…_token=``) query or form
parameter, the credential after ``Bearer``, a ``"token": "…"`` field of logged JSON or dict, and
any JWT-shaped string (three base64url parts, the first starting ``eyJ``, as every JSON header
does) wherever it appears. Each becomes ``[redacted]``.

``install()`` puts the filter on every handler logging has at that moment (the root logger's and
uvicorn's, which do not propagate); call it after logging is configured, as ``grace serve`` does.
The filter rewrites the record's message, its arguments (one by one, so formatters that read them,
like uvicorn's access log, still work), the traceback and the stack of the record.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

REDACTED = "[redacted]"

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # a JWT anywhere: header.payload.signature (the signature may be empty)
    (re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), REDACTED),
    # ?token=… &access_token=… (query strings, form bodies)
    (re.compile(r"(?i)(\b[a-z_]*token=)[^&\s\"'#;,]+"), rf"\1{REDACTED}"),
    # Authorization: Bearer …
    (re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9\-._~+/]+=*"), rf"\1{REDACTED}"),
    # "token": "…" and 'token': '…' (logged JSON, dicts, hello frames)
    (re.compile(r"(?i)([\"'][a-z_]*token[\"']\s*[:=]\s*[\"'])[^\"']+"), rf"\1{REDACTED}"),
)


def redact(text: str) -> str:
    """``text`` with every credential it holds replaced by ``[redacted]``."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class _Shown:
    """An argument that held a credential: prints as the original would, without it."""

    __slots__ = ("_repr", "_str")

    def __init__(self, as_str: str, as_repr: str) -> None:
        self._str = as_str
        self._repr = as_repr

    def __str__(self) -> str:
        return self._str

    def __repr__(self) -> str:
        return self._repr


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, int | float):
        return value  # numbers keep working with %d and %f
    try:
        as_str, as_repr = str(value), repr(value)
    except Exception:  # an object that cannot print itself: leave it to the formatter
        return value
    clean_str, clean_repr = redact(as_str), redact(as_repr)
    if clean_str == as_str and clean_repr == as_repr:
        return value
    return _Shown(clean_str, clean_repr)


class RedactFilter(logging.Filter):
    """Redacts every record it sees (and lets all of them through)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        else:
            record.msg = _clean(record.msg)
        args = record.args
        if isinstance(args, Mapping):
            record.args = {key: _clean(value) for key, value in args.items()}
        elif isinstance(args, tuple):
            record.args = tuple(_clean(value) for value in args)
        color = record.__dict__.get("color_message")  # uvicorn's coloured variant of msg
        if isinstance(color, str):
            record.__dict__["color_message"] = redact(color)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def configured_handlers() -> list[logging.Handler]:
    """Every handler of every logger configured so far, the root logger's first."""
    loggers: list[logging.Logger] = [logging.getLogger()]
    loggers += [
        logger
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    return [handler for logger in loggers for handler in logger.handlers]


def install() -> RedactFilter:
    """Add the filter to every handler of every logger configured so far (once per handler)."""
    found = RedactFilter()
    for handler in configured_handlers():
        if not any(isinstance(f, RedactFilter) for f in handler.filters):
            handler.addFilter(found)
    return found
