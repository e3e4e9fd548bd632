"""Where approvals and the audit log live: the contract of an approval store.

Guarantees: ``decide`` is atomic and only changes a ``pending`` approval, so of two concurrent
decisions exactly one wins (it returns ``changed=True``) and the other gets the stored record;
the audit log is append-only (no method updates or deletes an entry); a stored approval that
cannot be read back (a row written before its values were checked) is left out of every answer
(``get`` answers ``None``) and logged once, so it never breaks a listing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any, Protocol

import orjson

from grace_chat.approvals.model import Approval, ApprovalState, AuditEntry
from grace_chat.records import Row

#: Expiries at or beyond this (year 10000) cannot be shown, so the expirer does not wait for them.
LAST_SHOWABLE = 253402300800.0

log = logging.getLogger("grace_chat.approvals")


#: The columns an engine reads an approval from, in the order ``approval_from_row`` expects.
COLUMNS = (
    "approval_id, user_id, action_type, agent, params, trace_id, message, state, created_at, "
    "expires_at, decided_at, decided_by, reason"
)


def approval_from_row(r: Row) -> Approval:
    """An approval from a row of ``COLUMNS`` (``params`` as JSON bytes or text)."""
    return Approval(
        approval_id=r[0],
        user_id=r[1],
        action_type=r[2],
        agent=r[3],
        params=orjson.loads(r[4]),
        trace_id=r[5],
        message=r[6],
        state=ApprovalState(r[7]),
        created_at=r[8],
        expires_at=r[9],
        decided_at=r[10],
        decided_by=r[11],
        reason=r[12],
    )


class ReadableRows:
    """What every engine does with its stored approval rows: turns the readable ones into
    approvals (``make`` must build one from a row whose first field is its id), leaves out a row
    that cannot be read or shown, and logs each such row the first time it is met."""

    def __init__(self, make: Callable[[Any], Approval]) -> None:
        self._make = make
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, rows: Iterable[Row]) -> list[Approval]:
        found = []
        for row in rows:
            try:
                approval = self._make(row)
                approval.info()
            except (ValueError, TypeError, KeyError, OverflowError):  # bad JSON is a ValueError
                self._left_out(row)
                continue
            found.append(approval)
        return found

    def _left_out(self, row: Row) -> None:
        with self._lock:
            first = row[0] not in self._seen
            self._seen.add(row[0])
        if first:
            log.error(
                "approval %r cannot be read (state %r, expires_at %r); it is left out of "
                "every answer",
                row[0],
                row[7],
                row[9],
            )


class ApprovalStore(Protocol):
    async def open(self) -> None: ...

    async def create(self, approval: Approval) -> None: ...

    async def get(self, approval_id: str) -> Approval | None: ...

    async def list_approvals(
        self, user_id: str | None, state: ApprovalState | None = None, limit: int = 100
    ) -> list[Approval]: ...

    async def decide(self, decided: Approval) -> tuple[Approval, bool]:
        """Store ``decided`` if the approval is still pending; return what is stored and whether
        this call changed it."""
        ...

    async def due(self, now: float) -> list[Approval]:
        """Pending approvals whose ``expires_at`` has passed."""
        ...

    async def next_expiry(self, after: float) -> float | None:
        """The earliest ``expires_at`` later than ``after`` of a pending approval."""
        ...

    async def audit(self, entry: AuditEntry) -> None: ...

    async def read_audit(
        self, user_id: str | None, approval_id: str | None = None, limit: int = 200
    ) -> list[AuditEntry]:
        """Newest first. ``user_id`` limits it to entries about that user's approvals."""
        ...
