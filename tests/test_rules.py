"""From the bus to the chat: the seed's integrations, the type registry, the module helpers."""

from __future__ import annotations

from typing import Any

import pytest

import grace
from grace.config import Settings
from grace.errors import BadRequest, ConfigError
from grace.events import Event, EventType
from grace.notifications.model import Severity
from grace.notifications.types import NotificationType, default_types
from tests.support import Client, Running, serve

#: The seed's "Integration with Background Systems" section (plus its governance handler):
#: event type, source, data → what the user sees.
SEED_EXAMPLES: list[tuple[EventType, str, dict[str, Any], str, str, str]] = [
    (
        EventType.AGENT_ACTION,
        "guardian",
        {"action": "error_detected", "message": "High memory usage detected", "user_id": "user"},
        "error_detected",
        "⚠️",
        "High memory usage detected",
    ),
    (
        EventType.AGENT_ACTION,
        "self_heal",
        {"action": "self_healing_triggered", "playbook": "restart_service", "user_id": "user"},
        "healing_triggered",
        "🔧",
        "Auto-healing: Restarting service",
    ),
    (
        EventType.AGENT_ACTION,
        "mission_control",
        {"action": "mission_completed", "mission_id": "mission_123", "user_id": "user"},
        "mission_completed",
        "✅",
        "Mission mission_123 completed",
    ),
    (
        EventType.LEARNING_OUTCOME,
        "learning_supervisor",
        {"action": "learning_complete", "source": "kubernetes_docs", "user_id": "user"},
        "learning_complete",
        "🧠",
        "Learned from kubernetes_docs",
    ),
    (
        EventType.GOVERNANCE_CHECK,
        "action_gateway",
        {"action": "approval_needed", "action_type": "deploy_service", "user_id": "user"},
        "approval_needed",
        "⚠️",
        "Approval needed: deploy_service",
    ),
]


@pytest.mark.parametrize(
    ("event_type", "source", "data", "kind", "badge", "message"),
    SEED_EXAMPLES,
    ids=[e[3] for e in SEED_EXAMPLES],
)
async def test_seed_integration_event_reaches_the_named_users_socket(
    server: Running,
    event_type: EventType,
    source: str,
    data: dict[str, Any],
    kind: str,
    badge: str,
    message: str,
) -> None:
    async with Client.connect(server, "user") as user, Client.connect(server, "other") as other:
        await user.welcome()
        await other.welcome()
        await server.grace.event_bus.publish(
            Event(event_type=event_type, source=source, data=dict(data))
        )
        (frame,) = await user.notifications(1)
        assert frame["type"] == kind and frame["badge"] == badge and frame["message"] == message
        assert frame["seq"] == 1 and frame["timestamp"].endswith("Z")
        assert "user_id" not in frame["data"]  # routing keys are not copied into the card
        if kind == "approval_needed":
            assert [a["label"] for a in frame["actions"]] == ["View Details", "Approve", "Reject"]
        # the other user's socket stays silent: a ping is answered before any notification
        await other.send({"type": "ping", "id": "p"})
        assert await other.recv() == {"type": "pong", "ref": "p"}
    assert (await server.grace.store.head("other")).seq == 0


async def test_event_without_a_recipient_is_logged_not_guessed(
    server: Running, caplog: pytest.LogCaptureFixture
) -> None:
    await server.grace.event_bus.publish(
        Event(
            event_type=EventType.AGENT_ACTION,
            source="guardian",
            data={"action": "error_detected", "message": "disk full"},
        )
    )
    assert "names no user_id" in caplog.text
    assert server.grace.hub.online_users() == []


async def test_default_recipients_and_user_ids_fan_out(settings: Settings) -> None:
    async with serve(settings.with_(default_recipients=("ops",))) as srv:
        bus = srv.grace.event_bus
        await bus.publish(
            Event(
                event_type=EventType.AGENT_ACTION,
                source="guardian",
                data={"action": "error_detected", "message": "disk full"},
            )
        )
        await bus.publish(
            Event(
                event_type=EventType.AGENT_ACTION,
                source="mission_control",
                data={"action": "mission_started", "mission_id": "m1", "user_ids": ["a", "b"]},
            )
        )
        (ops,) = await srv.grace.store.read_since("ops", 0, 10)
        assert ops.message == "disk full"
        for user in ("a", "b"):
            (n,) = await srv.grace.store.read_since(user, 0, 10)
            assert (n.type, n.badge, n.message) == ("mission_started", "🚀", "Mission m1 started")


SEED_TABLE = {
    "task_started": "🚀",
    "task_completed": "✅",
    "task_failed": "❌",
    "approval_needed": "⚠️",
    "error_detected": "❌",
    "healing_triggered": "🔧",
    "learning_complete": "🧠",
}


def test_registry_holds_every_type_of_the_seed_table_with_its_badge() -> None:
    types = default_types()
    for name, badge in SEED_TABLE.items():
        assert name in types
        assert types.get(name).badge == badge
    assert types.get("test").badge == "🧪"
    for name in ("task_cancelled", "task_paused", "task_resumed", "mission_failed"):
        assert name in types
    assert types.get("task_failed").severity is Severity.ERROR
    assert types.get("approval_needed").severity is Severity.WARNING
    # an unregistered but well-formed name still works, with the generic badge
    assert types.get("brand_new").badge == "🤖"
    with pytest.raises(BadRequest):
        types.get("Not A Name")


def test_registering_a_type_that_shadows_a_control_frame_is_refused() -> None:
    types = default_types()
    with pytest.raises(ConfigError):
        types.register(NotificationType("welcome", "👋"))
    with pytest.raises(ConfigError):
        types.register(NotificationType("Bad Name", "👋"))


async def test_an_application_registers_its_own_type_and_its_look_is_used(
    server: Running,
) -> None:
    server.grace.types.register(
        NotificationType("backup_done", "💾", Severity.SUCCESS, title="Backups")
    )
    async with Client.connect(server, "ann") as c:
        await c.welcome()
        await server.grace.notify_user("ann", "backup_done", "Nightly backup finished")
        (frame,) = await c.notifications(1)
    assert frame["type"] == "backup_done" and frame["badge"] == "💾"
    assert frame["severity"] == "success" and frame["title"] == "Backups"


async def test_module_level_helpers_work_and_import_time_subscriptions_apply(
    settings: Settings,
) -> None:
    seen: list[str] = []

    # as a module would at import time, before any application runs: the seed's handler,
    # synchronous, calling notify_user without await
    def handle_governance_event(event: Event) -> None:
        seen.append(event.data["action"])
        if event.data.get("action") == "deploy_check":
            grace.notify_user(
                user_id=event.data.get("user_id"),
                notification_type="approval_needed",
                message=f"Approval needed: {event.data.get('action_type')}",
                badge="⚠️",
            )

    unsubscribe = grace.event_bus.subscribe(EventType.GOVERNANCE_CHECK, handle_governance_event)
    try:
        with pytest.raises(RuntimeError, match="no running Grace"):
            await grace.notify_user(user_id="user", notification_type="test", message="early")
        async with serve(settings) as srv, Client.connect(srv, "user") as c:
            await c.welcome()
            await grace.event_bus.publish(
                Event(
                    event_type=EventType.GOVERNANCE_CHECK,
                    source="gateway",
                    data={"action": "deploy_check", "action_type": "db", "user_id": "user"},
                )
            )
            (approval,) = await c.notifications(1)
            stored = await grace.notify_user(
                user_id="user",
                notification_type="test",
                message="This is a test notification",
                badge="🧪",
                data={"k": 1},
            )
            (test,) = await c.notifications(1)
        assert seen == ["deploy_check"]
        assert approval["message"] == "Approval needed: db" and approval["badge"] == "⚠️"
        assert test["seq"] == stored.seq == 2 and test["data"] == {"k": 1}
        assert test["badge"] == "🧪"
    finally:
        unsubscribe()
    with pytest.raises(RuntimeError, match="no running Grace"):
        await grace.event_bus.publish(Event(event_type=EventType.GOVERNANCE_CHECK, source="x"))
