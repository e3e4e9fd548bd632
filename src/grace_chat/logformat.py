"""Structured logs: one JSON object per line (``GRACE_LOG_FORMAT=json``).

Each line has ``time`` (UTC, ISO 8601 with milliseconds), ``level``, ``logger`` and ``message``,
then the record's own fields: those given with ``extra=``, and for uvicorn's access log
``client``, ``method``, ``path``, ``http_version`` and ``status``. A record with an exception
carries it as ``exception`` (the formatted traceback).

No secret reaches a line: every string goes through ``logredact.redact`` (tokens, JWTs, Bearer
credentials), and a field whose name says it holds one (``token``, ``cookie``,
``authorization``, ``password``, ``secret``, ``set-cookie``) is replaced whole by
``[redacted]``, at any depth. ``install`` sets the formatter on every handler configured so far,
as ``logredact.install`` adds its filter: call both after logging is configured.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from typing import Any

import orjson

from grace_chat.logredact import REDACTED, configured_handlers, redact

#: The attributes every ``LogRecord`` has: anything else on a record is one of its fields.
STANDARD = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()
    | {"message", "asctime", "color_message", "taskName"}
)
SECRET_NAME = re.compile(r"(?i)token|cookie|authorization|password|secret|credential")
#: uvicorn's access log record's arguments, in order.
ACCESS_FIELDS = ("client", "method", "path", "http_version", "status")
#: Deepest nesting of a field's value written out.
MAX_DEPTH = 8


def _clean(value: Any, depth: int = 0) -> Any:
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if depth >= MAX_DEPTH:
        return "…"
    if isinstance(value, Mapping):
        return {
            str(k): REDACTED if SECRET_NAME.search(str(k)) else _clean(v, depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [_clean(v, depth + 1) for v in value]
    return redact(str(value))


class JsonFormatter(logging.Formatter):
    """A record as one line of JSON (see the module's docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": _iso(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        if record.name == "uvicorn.access" and isinstance(record.args, tuple):
            out.update(zip(ACCESS_FIELDS, (_clean(a) for a in record.args), strict=False))
        for key, value in record.__dict__.items():
            if key in STANDARD or key.startswith("_") or key in out:
                continue
            out[key] = REDACTED if SECRET_NAME.search(key) else _clean(value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            out["exception"] = redact(record.exc_text)
        if record.stack_info:
            out["stack"] = redact(record.stack_info)
        return orjson.dumps(out, default=str).decode()


def _iso(created: float) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{seconds}.{int(created % 1 * 1000):03d}Z"


def install(log_format: str) -> None:
    """With ``json``, every handler of every logger configured so far writes JSON lines;
    ``text`` leaves the formats as they are."""
    if log_format != "json":
        return
    formatter = JsonFormatter()
    for handler in configured_handlers():
        handler.setFormatter(formatter)
