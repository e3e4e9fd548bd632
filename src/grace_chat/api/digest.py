"""The away summary at the doors: on a connection's greeting (``synced.summary``, when the replay
reached ``away_digest_threshold``) and over REST (``GET /api/notifications/summary?since=N``).

The summary itself is computed by ``grace_chat.notifications.digest``; this module gives it what it
needs from the other parts: the person's muted types and the approvals as they stand now.
"""

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Query

from grace_chat.api.deps import CallerDependency
from grace_chat.approvals.gateway import ActionGateway
from grace_chat.auth import Identity
from grace_chat.errors import GraceError
from grace_chat.frames import AwaySummary
from grace_chat.notifications.digest import (
    MAX_LISTED,
    ApprovalStatus,
    Digest,
    Entry,
)
from grace_chat.notifications.preferences import PreferenceStore, muted
from grace_chat.notifications.store import NotificationStore

if TYPE_CHECKING:
    from grace_chat.app import Grace

#: Notifications read per page when the REST summary walks the log.
PAGE = 500


async def approval_states(
    gateway: ActionGateway, caller: Identity, mentioned: Sequence[str]
) -> dict[str, ApprovalStatus]:
    """The current state of the approvals the replay ``mentioned`` (the latest ``MAX_LISTED``,
    looked up together; the others, and any gone or not the caller's, keep what their
    notifications said). Nothing is read when none is mentioned: a reconnect storm of clients
    that missed no approval costs no lookup."""

    async def one(approval_id: str) -> ApprovalStatus | None:
        try:
            return _status((await gateway.get(approval_id, caller)).info())
        except GraceError:
            return None

    found = await asyncio.gather(*(one(i) for i in mentioned[-MAX_LISTED:]))
    return {s.approval_id: s for s in found if s is not None}


def _status(info: dict[str, Any]) -> ApprovalStatus:
    return ApprovalStatus(
        approval_id=info["approval_id"],
        state=info["state"],
        message=info["message"],
        action_type=info["action_type"],
        expires_at=info["expires_at"],
    )


class AwayDigest:
    """Follows one connection's replay (``add`` each page) and, at its end, answers the summary
    when the replay reached the threshold (types the person muted do not count)."""

    def __init__(
        self,
        preferences: PreferenceStore,
        gateway: ActionGateway,
        identity: Identity,
        since: int | None,
        threshold: int,
    ) -> None:
        self._preferences = preferences
        self._gateway = gateway
        self._identity = identity
        self._threshold = threshold
        self._digest = Digest(since or 0) if since is not None and threshold > 0 else None

    def add(self, page: Sequence[Entry]) -> None:
        if self._digest is not None:
            self._digest.add(page)

    async def summary(self) -> dict[str, Any] | None:
        digest = self._digest
        if digest is None or digest.count < self._threshold:
            return None
        silenced = muted(await self._preferences.modes(self._identity.user_id))
        if digest.count_without(silenced) < self._threshold:
            return None
        states = await approval_states(self._gateway, self._identity, digest.approval_ids())
        return digest.summary(states, silenced)


def away_digest(grace: "Grace", identity: Identity, since: int | None) -> AwayDigest:
    """The away digest of a connection that asked to resume after ``since``."""
    return AwayDigest(
        grace.preferences,
        grace.action_gateway,
        identity,
        since,
        grace.settings.away_digest_threshold,
    )


def build_summary_router(
    log: NotificationStore,
    preferences: PreferenceStore,
    gateway: ActionGateway,
    caller: CallerDependency,
) -> APIRouter:
    router = APIRouter(tags=["notifications"])
    Caller = Annotated[Identity, Depends(caller)]

    @router.get(
        "/api/notifications/summary",
        response_model=AwaySummary,
        summary="While you were away: the notifications after 'since' in one summary",
    )
    async def summary(
        who: Caller,
        since: Annotated[int, Query(ge=0, description="summarize what came after this seq")],
    ) -> dict[str, Any]:
        digest = Digest(since)
        cursor = since
        while page := await log.read_since(who.user_id, cursor, PAGE):
            digest.add(page)
            cursor = page[-1].seq
            if len(page) < PAGE:
                break
        silenced = muted(await preferences.modes(who.user_id))
        states = await approval_states(gateway, who, digest.approval_ids())
        return digest.summary(states, silenced)

    return router
