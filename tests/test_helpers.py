"""The module-level helpers (``grace_chat.notify_user``, ``grace_chat.event_bus``,
``grace_chat.action_gateway``, ``grace_chat.start_background_task``): the original design's call
shapes, bound to the running application."""

from __future__ import annotations

import pytest

import grace_chat
from grace_chat import Grace
from grace_chat.auth import Identity
from grace_chat.config import Settings
from grace_chat.events import Event, EventType
from grace_chat.tasks.context import TaskContext
from tests.support import Client, serve


def _ann() -> Identity:
    return Identity("ann")


async def test_helpers_refuse_clearly_when_no_application_runs() -> None:
    with pytest.raises(RuntimeError, match="no running Grace application"):
        await grace_chat.notify_user(user_id="u", notification_type="test", message="x")
    with pytest.raises(RuntimeError, match="no running Grace application"):
        await grace_chat.start_background_task("anything", "u")
    with pytest.raises(RuntimeError, match="no running Grace application"):
        await grace_chat.action_gateway.request_action("deploy", "agent", {}, user_id="u")


async def test_helpers_follow_the_application_that_runs_and_let_go_when_it_stops(
    settings: Settings,
) -> None:
    async with Grace(settings, systems=False) as app:
        stored = await grace_chat.notify_user(user_id="ann", notification_type="test", message="hi")
        assert (await app.store.read_since("ann", 0, 10))[0].id == stored.id

        async def work(ctx: TaskContext) -> str:
            return "done"

        task_id = await grace_chat.start_background_task("job", "ann", work, "job_1")
        final = await app.tasks.wait(task_id)
        assert final.result == "done"
        outcome = await grace_chat.action_gateway.request_action(
            "deploy_service", "release_bot", {"service": "api"}, user_id="ann"
        )
        # the default policy asks a person: the request waits for ann's decision
        assert outcome["status"] == "pending" and outcome["approved"] is False
        pending = await app.action_gateway.get(outcome["approval_id"], _ann())
        assert pending.action_type == "deploy_service"
    with pytest.raises(RuntimeError, match="no running Grace application"):
        await grace_chat.notify_user(user_id="ann", notification_type="test", message="after")


async def test_a_subscription_made_before_any_application_applies_to_each_one_started(
    settings: Settings,
) -> None:
    seen: list[str] = []
    unsubscribe = grace_chat.event_bus.subscribe(
        EventType.AGENT_ACTION, lambda event: seen.append(str(event.data.get("n")))
    )
    try:
        async with Grace(settings, systems=False) as first:
            await first.event_bus.publish(Event(EventType.AGENT_ACTION, "t", {"n": 1}))
        async with Grace(settings, systems=False) as second:
            await second.event_bus.publish(Event(EventType.AGENT_ACTION, "t", {"n": 2}))
            unsubscribe()
            await second.event_bus.publish(Event(EventType.AGENT_ACTION, "t", {"n": 3}))
    finally:
        unsubscribe()
    assert seen == ["1", "2"]


async def test_module_level_helpers_work_and_import_time_subscriptions_apply(
    settings: Settings,
) -> None:
    seen: list[str] = []

    # as a module would at import time, before any application runs: the seed's handler,
    # synchronous, calling notify_user without await
    def handle_governance_event(event: Event) -> None:
        seen.append(event.data["action"])
        if event.data.get("action") == "deploy_check":
            grace_chat.notify_user(
                user_id=event.data.get("user_id"),
                notification_type="approval_needed",
                message=f"Approval needed: {event.data.get('action_type')}",
                badge="⚠️",
            )

    unsubscribe = grace_chat.event_bus.subscribe(
        EventType.GOVERNANCE_CHECK, handle_governance_event
    )
    try:
        with pytest.raises(RuntimeError, match="no running Grace"):
            await grace_chat.notify_user(user_id="user", notification_type="test", message="early")
        async with serve(settings) as srv, Client.connect(srv, "user") as c:
            await c.welcome()
            await grace_chat.event_bus.publish(
                Event(
                    event_type=EventType.GOVERNANCE_CHECK,
                    source="gateway",
                    data={"action": "deploy_check", "action_type": "db", "user_id": "user"},
                )
            )
            (approval,) = await c.notifications(1)
            stored = await grace_chat.notify_user(
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
        await grace_chat.event_bus.publish(Event(event_type=EventType.GOVERNANCE_CHECK, source="x"))
