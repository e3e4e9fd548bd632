"""Where approvals and the audit log live: the contract of an approval store.

Guarantees: ``decide`` is atomic and only changes a ``pending`` approval, so of two concurrent
decisions exactly one wins (it returns ``changed=True``) and the other gets the stored record;
the audit log is append-only (no method updates or deletes an entry); a stored approval that
cannot be read back (a row written before its values were checked) is left out of every answer
(``get`` answers ``None``) and logged once, so it never breaks a listing.
"""

from __future__ import annotations

from typing import Protocol

from grace.approvals.model import Approval, ApprovalState, AuditEntry


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
