"""What a notification is: a draft (before the store numbers it) and the stored notification."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import orjson


class Severity(StrEnum):
    INFO = "info"
    SUCCESS = "success"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Action:
    """A button on a notification card. ``id`` tells the client which command it sends."""

    id: str
    label: str

    def as_dict(self) -> dict[str, str]:
        return {"id": self.id, "label": self.label}


@dataclass(frozen=True, slots=True)
class Draft:
    """A notification that has no place in any log yet, for one user or for many.

    A draft sent to several ``recipients`` is stored once and gets one ``seq`` in each of their
    logs; the copies share the notification's ``id``.
    """

    recipients: tuple[str, ...]
    type: str
    message: str
    badge: str
    severity: Severity
    title: str
    data: dict[str, Any] = field(default_factory=dict)
    actions: tuple[Action, ...] = ()
    #: Unix time in seconds (``time.time()``: cheap on the append path).
    created: float = field(default_factory=time.time)
    #: ``data`` as JSON, when the notifier already encoded it (the store encodes it otherwise).
    data_json: bytes | None = None


@dataclass(frozen=True, slots=True)
class Notification:
    """A notification as stored in a user's log: ``seq`` is its place there."""

    id: str
    user_id: str
    seq: int
    type: str
    message: str
    badge: str
    severity: Severity
    title: str
    timestamp: str
    data: dict[str, Any]
    actions: tuple[Action, ...]
    read: bool = False

    def frame(self) -> dict[str, Any]:
        """The protocol v1 notification frame (a superset of the original design's frame)."""
        frame = notification_body(
            self.type, self.id, self.title, self.message, self.badge, self.severity,
            self.timestamp, self.data, self.actions, self.read,
        )  # fmt: skip
        frame["seq"] = self.seq
        return frame


@dataclass(frozen=True, slots=True)
class Replayed:
    """A stored notification as a replay sends it: its frame already encoded (the JSON of
    ``Notification.frame``), and the fields the away summary reads (``grace_chat.notifications.
    digest``), with ``data`` still as stored: the summary decodes it of a few types only."""

    seq: int
    type: str
    severity: str
    timestamp: str
    frame: bytes
    message: str
    data_json: bytes | str

    @property
    def data(self) -> dict[str, Any]:
        found = orjson.loads(self.data_json)
        return found if isinstance(found, dict) else {}

    @classmethod
    def of(cls, n: Notification) -> Replayed:
        """``n`` as a replay sends it (for engines that read whole notifications)."""
        frame = orjson.dumps(n.frame())
        return cls(
            n.seq, n.type, n.severity.value, n.timestamp, frame, n.message, orjson.dumps(n.data)
        )


@dataclass(frozen=True, slots=True)
class Posted:
    """A draft once committed: its ``id`` and ``timestamp``, and the ``seq`` it got in each
    recipient's log (``seqs[i]`` belongs to ``draft.recipients[i]``)."""

    draft: Draft
    id: str
    timestamp: str
    seqs: tuple[int, ...]
    #: ``frame_tail``, when the engine encoded it already (to store it).
    tail: bytes | None = None

    def notification(self, index: int = 0) -> Notification:
        """Recipient ``index``'s copy, as its log holds it."""
        d = self.draft
        return Notification(
            id=self.id,
            user_id=d.recipients[index],
            seq=self.seqs[index],
            type=d.type,
            message=d.message,
            badge=d.badge,
            severity=d.severity,
            title=d.title,
            timestamp=self.timestamp,
            data=d.data,
            actions=d.actions,
        )

    def notifications(self) -> list[Notification]:
        return [self.notification(i) for i in range(len(self.seqs))]

    def frame_tail(self) -> bytes:
        """The notification frame without its ``seq``, as JSON after the opening brace: the
        part every recipient's frame shares (see ``frame_bytes``)."""
        if self.tail is not None:
            return self.tail
        return encode_tail(self.draft, self.id, self.timestamp)


def encode_tail(d: Draft, id: str, timestamp: str, data_json: bytes | None = None) -> bytes:
    """The frame ``tail`` of draft ``d`` stored as ``id`` at ``timestamp`` (``frame_bytes``);
    ``data`` is embedded as ``data_json`` (or ``d.data_json``) when it was encoded already."""
    data_json = data_json if data_json is not None else d.data_json
    data = orjson.Fragment(data_json) if data_json is not None else d.data
    body = notification_body(
        d.type, id, d.title, d.message, d.badge, d.severity, timestamp, data, d.actions, False
    )
    return orjson.dumps(body)[1:]


def notification_body(
    type: str,
    id: str,
    title: str,
    message: str,
    badge: str,
    severity: str,
    timestamp: str,
    data: dict[str, Any] | orjson.Fragment,
    actions: tuple[Action, ...] | orjson.Fragment,
    read: bool,
) -> dict[str, Any]:
    """The notification frame, all but its ``seq``: the one place its fields are named
    (``read`` last, which ``frame_bytes`` relies on).

    ``data`` and ``actions`` may be JSON already encoded (``orjson.Fragment``), as the log stores
    them; ``severity`` is a ``Severity`` or its value."""
    listed = actions if isinstance(actions, orjson.Fragment) else [a.as_dict() for a in actions]
    return {
        "type": type,
        "id": id,
        "title": title,
        "message": message,
        "badge": badge,
        "severity": str(severity),
        "timestamp": timestamp,
        "data": data,
        "actions": listed,
        "read": read,
    }


def frame_bytes(seq: int, tail: bytes, read: bool = False) -> bytes:
    """One recipient's notification frame: its ``seq`` put before the shared ``tail``, and its
    read flag at the end (``tail`` ends with ``"read":false}``: ``notification_body`` names it
    last)."""
    if read:
        tail = tail[: -len(b"false}")] + b"true}"
    return b'{"seq":%d,%b' % (seq, tail)


_second: list[tuple[int, str]] = [(-1, "")]


def iso_utc_ts(seconds: float) -> str:
    """ISO 8601 in UTC with millisecond precision and a ``Z``: ``2024-01-15T10:35:00.000Z``.

    On the append path: the formatted second is cached, so a burst formats it once.
    """
    whole = int(seconds)
    cached_whole, prefix = _second[0]
    if whole != cached_whole:
        prefix = datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        _second[0] = (whole, prefix)
    millis = min(999, round((seconds - whole) * 1000))
    return f"{prefix}{millis:03d}Z"
