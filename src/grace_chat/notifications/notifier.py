"""The notifier: builds notifications, appends them to the durable log, then fans them out.

Guarantees: ``notify_user`` returns the stored notification only after it is durable; fan-out
happens in the store's commit callback, so every user's notifications reach the hub in ``seq``
order and exactly once. A notification for many users (``notify_users``, or an event with several
recipients) is checked, stored and serialized once; each recipient's frame is that shared body
with its own ``seq`` put in front, whatever the number of users and connections. Bus events
are turned into notifications by ``Rules``; an event no rule matches is ignored, and one with no
recipient is logged, never guessed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from grace_chat.auth import check_user_id
from grace_chat.errors import BadRequest
from grace_chat.events import Event, EventBus
from grace_chat.hub.backplane import Backplane
from grace_chat.hub.outbox import Outbox
from grace_chat.notifications.model import (
    Action,
    Draft,
    Notification,
    Posted,
    Severity,
    frame_bytes,
)
from grace_chat.notifications.rules import Rules, recipients
from grace_chat.notifications.store import NotificationStore
from grace_chat.notifications.types import TypeRegistry

log = logging.getLogger("grace.notifier")

MAX_MESSAGE = 4000


class Notifier:
    def __init__(
        self,
        store: NotificationStore,
        backplane: Backplane,
        types: TypeRegistry,
        rules: Rules,
        default_recipients: tuple[str, ...] = (),
    ) -> None:
        self.store = store
        self.backplane = backplane
        self.types = types
        self.rules = rules
        self.default_recipients = default_recipients
        store.add_commit_listener(self._fan_out)

    def draft(
        self,
        user_id: str | Sequence[str],
        notification_type: str,
        message: str,
        badge: str | None = None,
        data: dict[str, Any] | None = None,
        severity: Severity | str | None = None,
        title: str | None = None,
        actions: Sequence[Action] | None = None,
    ) -> Draft:
        """Check a notification for ``user_id`` (one user, or several who share it)."""
        if isinstance(user_id, str):
            users: tuple[str, ...] = (check_user_id(user_id),)
        elif isinstance(user_id, list | tuple) and user_id:
            users = tuple(dict.fromkeys(check_user_id(u) for u in user_id))
        else:
            raise BadRequest("user_id must be a user id, or a non-empty list of them")
        kind = self.types.get(notification_type)
        if not isinstance(message, str) or not message.strip():
            raise BadRequest("message must be non-empty text")
        if len(message) > MAX_MESSAGE:
            raise BadRequest(f"message must be at most {MAX_MESSAGE} characters")
        if data is not None and not isinstance(data, dict):
            raise BadRequest("data must be an object")
        try:
            # encoded here, once: a value JSON cannot hold fails this call, never the batch of
            # other users' notifications it would have been committed with
            data_json = orjson.dumps(data) if data else b"{}"
        except TypeError as exc:
            raise BadRequest(f"data must be JSON values: {exc}") from None
        try:
            level = Severity(severity) if severity is not None else kind.severity
        except ValueError:
            raise BadRequest("severity must be one of info, success, warning, error") from None
        return Draft(
            recipients=users,
            type=kind.name,
            message=message,
            badge=badge or kind.badge,
            severity=level,
            title=title or kind.title,
            data=dict(data or {}),
            actions=tuple(actions) if actions is not None else kind.actions,
            data_json=data_json,
        )

    async def notify_user(
        self,
        user_id: str,
        notification_type: str,
        message: str,
        badge: str | None = None,
        data: dict[str, Any] | None = None,
        severity: Severity | str | None = None,
        title: str | None = None,
        actions: Sequence[Action] | None = None,
    ) -> Notification:
        posted = await self.notify_users(
            (user_id,), notification_type, message, badge, data, severity, title, actions
        )
        return posted.notification()

    async def notify_users(
        self,
        user_ids: Sequence[str],
        notification_type: str,
        message: str,
        badge: str | None = None,
        data: dict[str, Any] | None = None,
        severity: Severity | str | None = None,
        title: str | None = None,
        actions: Sequence[Action] | None = None,
    ) -> Posted:
        """One notification for several users: stored once, one ``seq`` in each user's log."""
        draft = self.draft(
            user_ids, notification_type, message, badge, data, severity, title, actions
        )
        (posted,) = await self.store.append([draft])
        return posted

    async def notify_many(self, drafts: Sequence[Draft]) -> list[Posted]:
        """Several drafts appended together (one transaction when they fit in one)."""
        return await self.store.append(list(drafts))

    async def handle_event(self, event: Event) -> None:
        spec = self.rules.match(event)
        if spec is None:
            return
        users = recipients(event, self.default_recipients)
        if not users:
            log.warning(
                "event %s from %s names no user_id and no default recipients are configured; "
                "no notification sent",
                event.event_type,
                event.source,
            )
            return
        draft = self.draft(users, spec.type, spec.message, spec.badge, spec.data, spec.severity)
        await self.store.append([draft])

    def subscribe(self, bus: EventBus) -> list[Callable[[], None]]:
        """Turn ``bus`` events into notifications; returns the unsubscribe calls."""
        return [bus.subscribe(kind, self.handle_event) for kind in self.rules.event_types()]

    async def mark_read(
        self,
        user_id: str,
        *,
        ids: Sequence[str] | None = None,
        up_to_seq: int | None = None,
        everything: bool = False,
        exclude: Outbox | None = None,
    ) -> dict[str, Any]:
        """Mark the user's notifications read and tell the user's other open chats (all of them
        but ``exclude``, the connection that asked) with a ``read`` frame, which it returns."""
        if not ids and up_to_seq is None and not everything:
            raise BadRequest("mark_read needs 'ids', 'up_to_seq' or 'all': true")
        result = await self.store.mark_read(
            user_id, ids=ids, up_to_seq=up_to_seq, everything=everything
        )
        frame = {
            "type": "read",
            "ids": list(ids or ()),
            "up_to_seq": up_to_seq,
            "all": everything,
            "marked": result.marked,
            "unread": result.unread,
        }
        self.backplane.send_control(user_id, orjson.dumps(frame), exclude)
        return frame

    def _fan_out(self, committed: Sequence[Posted]) -> None:
        publish = self.backplane.publish
        for posted in committed:
            tail = posted.frame_tail()
            for user, seq in zip(posted.draft.recipients, posted.seqs, strict=True):
                publish(user, seq, frame_bytes(seq, tail))
