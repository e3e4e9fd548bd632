""" "While you were away": one summary of the notifications a person missed.

``summarize(notifications, since, approvals)`` is a pure function of the notifications after
``since`` and the approvals as they stand now; ``Digest`` computes the same incrementally, page by
page, keeping counters rather than notifications, so a replay of thousands costs little memory.
The summary says how many notifications came, by type and by severity, which approvals still
wait for the person (with their ids, so a client can offer Approve / Reject) and which were
decided or expired meanwhile, and which tasks finished or failed; ``first_seq`` .. ``last_seq``
is the range it covers, so a client can fold those cards under it. Types the person muted are
left out of every part of it. The shape is ``grace_chat.frames.AwaySummary``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, Protocol

from grace_chat.notifications.model import Severity

#: Most approvals and tasks a summary lists (the counts cover all of them).
MAX_LISTED = 20

TASK_ENDS = {
    "task_completed": "succeeded",
    "task_failed": "failed",
    "task_cancelled": "cancelled",
    "task_interrupted": "interrupted",
}
DECISIONS = {
    "action_approved": "approved",
    "action_rejected": "rejected",
    "approval_expired": "expired",
}
APPROVAL_NEEDED = "approval_needed"
#: The types of the notifications about approvals (the summary looks into those, and into the
#: ends of tasks; the others it only counts).
_APPROVALS = frozenset({APPROVAL_NEEDED, *DECISIONS})
_LOOKED_INTO = frozenset({*TASK_ENDS, *_APPROVALS})
_KIND = attrgetter("type")
_KIND_AND_SEVERITY = attrgetter("type", "severity")


class Entry(Protocol):
    """What the summary reads of a notification: a ``Notification``, or a ``Replayed`` (its
    ``data`` decoded only when the summary looks into it)."""

    @property
    def seq(self) -> int: ...
    @property
    def type(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def timestamp(self) -> str: ...
    @property
    def data(self) -> Mapping[str, Any]: ...


_STATE_ORDER = {"pending": 0, "expired": 1, "rejected": 2, "approved": 3}
_TASK_ORDER = {"failed": 0, "interrupted": 1, "cancelled": 2, "succeeded": 3}


@dataclass(frozen=True, slots=True)
class ApprovalStatus:
    """An approval as it stands now (from the approval gateway)."""

    approval_id: str
    state: str  # pending | approved | rejected | expired
    message: str
    action_type: str | None = None
    expires_at: str | None = None


@dataclass(slots=True)
class _Asked:
    """An approval the replay mentions: what its notifications said."""

    type: str  # the type of the notification that first mentioned it
    seq: int | None
    message: str
    action_type: str | None
    expires_at: str | None
    decided: str | None = None


@dataclass(slots=True)
class _Ended:
    task_id: str
    type: str
    seq: int
    state: str
    message: str
    data: Mapping[str, Any]  # read for the tasks listed only


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


class Digest:
    """The summary of a replay, fed page by page with ``add``.

    ``add`` is on the path of every reconnecting client's replay: it counts a page by type and
    severity and notes the first and last of each type in C loops (``Counter``, ``dict.update``),
    and looks into the notifications about approvals and the ends of tasks only.
    """

    def __init__(self, since: int) -> None:
        self.since = since
        self._counts: Counter[tuple[str, str]] = Counter()
        self._first: dict[str, Entry] = {}  # by type: the first, and the last one added
        self._last: dict[str, Entry] = {}
        self._asked: dict[str, _Asked] = {}
        self._ended: dict[str, _Ended] = {}

    @property
    def count(self) -> int:
        """How many notifications were added, of every type."""
        return sum(self._counts.values())

    def count_without(self, muted: Collection[str]) -> int:
        return sum(n for (kind, _), n in self._counts.items() if kind not in muted)

    def approval_ids(self) -> list[str]:
        """The approvals the added notifications mention, in the order they came."""
        return list(self._asked)

    def add(self, notifications: Iterable[Entry]) -> None:
        page = list(notifications)
        kinds = list(map(_KIND, page))
        self._counts.update(map(_KIND_AND_SEVERITY, page))
        self._last.update(zip(kinds, page, strict=True))
        earliest = dict(zip(reversed(kinds), reversed(page), strict=True))  # each type's first
        for kind, n in earliest.items():
            self._first.setdefault(kind, n)
        for n in [n for kind, n in zip(kinds, page, strict=True) if kind in _LOOKED_INTO]:
            if n.type in TASK_ENDS:
                self._note_task(n)
            else:
                self._note_approval(n)

    def _note_approval(self, n: Entry) -> None:
        data = n.data  # a replayed notification decodes it here
        approval_id = _text(data.get("approval_id"))
        if approval_id is None:
            return
        asked = self._asked.get(approval_id)
        if asked is None:
            asked = self._asked[approval_id] = _Asked(
                type=n.type,
                seq=n.seq if n.type == APPROVAL_NEEDED else None,
                message=n.message,
                action_type=_text(data.get("action_type")),
                expires_at=_text(data.get("expires_at")),
            )
        elif n.type == APPROVAL_NEEDED:  # the request, seen after its decision: it words it
            asked.type, asked.seq, asked.message = n.type, n.seq, n.message
        if n.type in DECISIONS:
            asked.decided = _text(data.get("state")) or DECISIONS[n.type]

    def _note_task(self, n: Entry) -> None:
        state = TASK_ENDS.get(n.type)
        data = n.data
        task_id = _text(data.get("task_id"))
        if state is None or task_id is None:
            return
        self._ended.pop(task_id, None)  # the latest end counts, in the order it came
        self._ended[task_id] = _Ended(task_id, n.type, n.seq, state, n.message, data)

    def summary(
        self, approvals: Mapping[str, ApprovalStatus], muted: Collection[str] = ()
    ) -> dict[str, Any]:
        """The summary (``grace_chat.frames.AwaySummary``), given the approvals the notifications
        mention as they stand now (one missing from ``approvals`` keeps what its notifications
        said: decided or expired by a decision notification, else pending)."""
        muted = frozenset(muted)
        by_type: dict[str, int] = {}
        severities = {s.value: 0 for s in Severity}
        for (kind, severity), n in self._counts.items():
            if kind not in muted:
                by_type[kind] = by_type.get(kind, 0) + n
                severities[str(severity)] += n
        count = sum(by_type.values())
        first = min((self._first[k] for k in by_type), key=lambda n: n.seq, default=None)
        last = max((self._last[k] for k in by_type), key=lambda n: n.seq, default=None)
        listed = self._approvals(approvals, muted)
        tasks = sorted(
            (e for e in self._ended.values() if e.type not in muted),
            key=lambda e: (_TASK_ORDER.get(e.state, 9), e.seq),
        )
        waiting = sum(1 for a in listed if a["state"] == "pending")
        expired = sum(1 for a in listed if a["state"] == "expired")
        failed = sum(1 for e in tasks if e.state == "failed")
        finished = sum(1 for e in tasks if e.state == "succeeded")
        return {
            "count": count,
            "since": self.since,
            "first_seq": first.seq if first else self.since,
            "last_seq": last.seq if last else self.since,
            "first_at": first.timestamp if first else None,
            "last_at": last.timestamp if last else None,
            "by_type": dict(sorted(by_type.items(), key=_most_first)),
            "by_severity": severities,
            "waiting": waiting,
            "approvals": listed[:MAX_LISTED],
            "tasks": [_task_info(e) for e in tasks[:MAX_LISTED]],
            "text": _words(count, waiting, expired, failed, finished),
        }

    def _approvals(
        self, now: Mapping[str, ApprovalStatus], muted: frozenset[str]
    ) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for approval_id, asked in self._asked.items():
            if asked.type in muted:
                continue
            current = now.get(approval_id)
            state = current.state if current else asked.decided or "pending"
            items.append(
                {
                    "approval_id": approval_id,
                    "state": state,
                    # the request's own words, else the approval's (asked before the replay)
                    "message": current.message if current and asked.seq is None
                    else asked.message,
                    "action_type": asked.action_type or (current.action_type if current else None),
                    "expires_at": (current.expires_at if current else None) or asked.expires_at,
                    "seq": asked.seq,
                }
            )  # fmt: skip
        items.sort(key=lambda a: (_STATE_ORDER.get(a["state"], 9), a["seq"] is None, a["seq"] or 0))
        return items


def summarize(
    notifications: Iterable[Entry],
    since: int,
    approvals: Mapping[str, ApprovalStatus],
    muted: Collection[str] = (),
) -> dict[str, Any]:
    """The away summary of ``notifications`` (those after ``since``), given the approvals as they
    stand now and the types the person muted."""
    digest = Digest(since)
    digest.add(notifications)
    return digest.summary(approvals, muted)


def _most_first(item: tuple[str, int]) -> tuple[int, str]:
    return (-item[1], item[0])


def _task_info(e: _Ended) -> dict[str, Any]:
    return {
        "task_id": e.task_id,
        "state": e.state,
        "message": e.message,
        "task_type": _text(e.data.get("task_type")),
        "title": _text(e.data.get("title")),
        "error": _text(e.data.get("error")),
        "seq": e.seq,
    }


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _words(count: int, waiting: int, expired: int, failed: int, finished: int) -> str:
    """The summary in one sentence: ``42 notifications while you were away: 2 approvals wait
    for you, 1 expired; 3 tasks failed, 5 finished.``"""
    parts = []
    approvals = []
    if waiting:
        approvals.append(_plural(waiting, "approval waits for you", "approvals wait for you"))
    if expired:
        approvals.append(
            f"{expired} expired" if waiting
            else _plural(expired, "approval expired", "approvals expired")
        )  # fmt: skip
    if approvals:
        parts.append(", ".join(approvals))
    tasks = []
    if failed:
        tasks.append(_plural(failed, "task failed", "tasks failed"))
    if finished:
        tasks.append(
            f"{finished} finished" if failed
            else _plural(finished, "task finished", "tasks finished")
        )  # fmt: skip
    if tasks:
        parts.append(", ".join(tasks))
    head = f"{_plural(count, 'notification', 'notifications')} while you were away"
    return f"{head}: {'; '.join(parts)}." if parts else f"{head}."
