"""The notifier: checks a notification, stores it once, then hands each recipient's frame to the
backplane in commit order; marks read and tells the user's other connections; turns bus events
into notifications by the rules. A real SQLite log and a real hub, no server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from grace_chat.errors import BadRequest
from grace_chat.events import Event, EventBus, EventType
from grace_chat.hub.backplane import LocalBackplane
from grace_chat.hub.hub import Hub
from grace_chat.hub.outbox import Outbox
from grace_chat.notifications.notifier import Notifier
from grace_chat.notifications.rules import default_rules
from grace_chat.notifications.types import default_types
from grace_chat.store.backends.sqlite_notifications import SQLiteNotificationLog


@pytest.fixture
async def parts(tmp_path: Path) -> AsyncIterator[tuple[Notifier, Hub]]:
    store = SQLiteNotificationLog(tmp_path / "grace.db", synchronous="NORMAL")
    await store.open()
    hub = Hub()
    try:
        yield Notifier(store, LocalBackplane(hub), default_types(), default_rules()), hub
    finally:
        await store.close()


def connect(hub: Hub, user: str) -> Outbox:
    box = hub.outbox(100, lambda: None)
    hub.attach(user, box)
    return box


async def frames(box: Outbox) -> list[dict[str, Any]]:
    return [orjson.loads(frame) for _, frame in await box.next_batch()]


async def test_a_notification_is_stored_then_reaches_each_connection_of_its_user_only(
    parts: tuple[Notifier, Hub],
) -> None:
    notifier, hub = parts
    tab1, tab2, other = connect(hub, "ann"), connect(hub, "ann"), connect(hub, "bob")
    stored = await notifier.notify_user(
        "ann", "task_completed", "Deployment completed successfully", data={"task_id": "d1"}
    )
    assert stored.seq == 1 and stored.badge == "✅"
    for tab in (tab1, tab2):
        (frame,) = await frames(tab)
        assert frame == stored.frame()
    assert len(other) == 0
    assert [n.id for n in await notifier.store.read_since("ann", 0, 10)] == [stored.id]


async def test_one_notification_for_several_users_shares_its_id_with_a_seq_in_each_log(
    parts: tuple[Notifier, Hub],
) -> None:
    notifier, hub = parts
    await notifier.notify_user("bob", "test", "bob's first")
    ann, bob = connect(hub, "ann"), connect(hub, "bob")
    posted = await notifier.notify_users(["ann", "bob", "ann"], "system_alert", "Maintenance")
    assert posted.draft.recipients == ("ann", "bob") and posted.seqs == (1, 2)
    (to_ann,), (to_bob,) = await frames(ann), await frames(bob)
    assert to_ann["id"] == to_bob["id"] == posted.id
    assert (to_ann["seq"], to_bob["seq"]) == (1, 2)


@pytest.mark.parametrize(
    ("call", "says"),
    [
        ({"user_id": ""}, "user_id"),
        ({"user_id": []}, "user_id"),
        ({"message": "   "}, "message must be non-empty"),
        ({"message": "x" * 4001}, "at most 4000"),
        ({"data": {"when": object()}}, "data must be JSON values"),
        ({"severity": "catastrophic"}, "severity must be one of"),
        ({"notification_type": "Not A Type"}, "type"),
    ],
)
async def test_a_bad_notification_is_refused_before_anything_is_stored(
    parts: tuple[Notifier, Hub], call: dict[str, Any], says: str
) -> None:
    notifier, _ = parts
    args: dict[str, Any] = {"user_id": "ann", "notification_type": "test", "message": "m"}
    with pytest.raises(BadRequest, match=says):
        await notifier.notify_user(**{**args, **call})
    assert (await notifier.store.head("ann")).seq == 0


async def test_mark_read_tells_the_users_other_connections_but_not_the_asking_one(
    parts: tuple[Notifier, Hub],
) -> None:
    notifier, hub = parts
    first = await notifier.notify_user("ann", "test", "one")
    await notifier.notify_user("ann", "test", "two")
    asking, other_tab, bob = connect(hub, "ann"), connect(hub, "ann"), connect(hub, "bob")
    reply = await notifier.mark_read("ann", ids=[first.id], exclude=asking)
    assert reply == {
        "type": "read", "ids": [first.id], "up_to_seq": None, "all": False,
        "marked": 1, "unread": 1,
    }  # fmt: skip
    assert await frames(other_tab) == [reply]
    assert len(asking) == 0 and len(bob) == 0
    with pytest.raises(BadRequest, match="needs 'ids', 'up_to_seq' or 'all'"):
        await notifier.mark_read("ann")


async def test_bus_events_become_notifications_until_unsubscribed(
    parts: tuple[Notifier, Hub],
) -> None:
    notifier, hub = parts
    bus = EventBus()
    unsubscribe = notifier.subscribe(bus)
    box = connect(hub, "ann")
    data = {"action": "error_detected", "message": "High memory usage detected", "user_id": "ann"}
    await bus.publish(Event(EventType.AGENT_ACTION, "guardian", data))
    (frame,) = await frames(box)
    assert (frame["type"], frame["badge"], frame["message"]) == (
        "error_detected", "⚠️", "High memory usage detected",
    )  # fmt: skip
    # an event no rule words is ignored
    await bus.publish(Event(EventType.AGENT_ACTION, "guardian", {"action": "??", "user_id": "ann"}))
    for remove in unsubscribe:
        remove()
    await bus.publish(Event(EventType.AGENT_ACTION, "guardian", data))
    assert (await notifier.store.head("ann")).seq == 1
