"""From the bus to the chat: the seed's integrations, the type registry, the module helpers."""

from __future__ import annotations

from typing import Any

import pytest

from grace_chat.config import Settings
from grace_chat.errors import BadRequest, ConfigError
from grace_chat.events import Event, EventType
from grace_chat.notifications.model import Severity
from grace_chat.notifications.types import NotificationType, default_types
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
    default_user = server.grace.settings.default_user
    async with Client.connect(server, default_user) as c:
        await c.welcome()
        await server.grace.event_bus.publish(
            Event(
                event_type=EventType.AGENT_ACTION,
                source="guardian",
                data={"action": "error_detected", "message": "disk full"},
            )
        )
        # nothing arrives before the answer to a ping sent after the event was handled
        assert await c.command({"type": "ping"}) == {"type": "pong", "ref": c.last_ref}
        assert c.buffer == []
    assert "names no user_id" in caplog.text
    for user in (default_user, "guardian"):
        assert (await server.grace.store.head(user)).seq == 0


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
