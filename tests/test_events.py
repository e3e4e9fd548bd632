"""The event bus: sync and async handlers, failing handlers, unsubscribe, publish_nowait."""

from __future__ import annotations

import asyncio
import logging

import pytest

from grace_chat.events import Event, EventBus, EventType


def governance(**data: object) -> Event:
    return Event(event_type=EventType.GOVERNANCE_CHECK, source="gateway", data=dict(data))


async def test_sync_and_async_handlers_both_run_before_publish_returns() -> None:
    bus = EventBus()
    seen: list[str] = []

    def sync_handler(event: Event) -> None:
        seen.append(f"sync:{event.data['n']}")

    async def async_handler(event: Event) -> None:
        await asyncio.sleep(0)  # a real suspension: publish must still wait for it
        seen.append(f"async:{event.data['n']}")

    bus.subscribe(EventType.GOVERNANCE_CHECK, sync_handler)
    bus.subscribe(EventType.GOVERNANCE_CHECK, async_handler)
    await bus.publish(governance(n=1))
    assert sorted(seen) == ["async:1", "sync:1"]


async def test_handlers_only_see_their_event_type_and_catch_all_sees_every_event() -> None:
    bus = EventBus()
    learning: list[EventType] = []
    everything: list[EventType] = []
    bus.subscribe(EventType.LEARNING_OUTCOME, lambda e: learning.append(e.event_type))
    bus.subscribe(None, lambda e: everything.append(e.event_type))
    await bus.publish(governance())
    await bus.publish(Event(event_type=EventType.LEARNING_OUTCOME, source="learning"))
    assert learning == [EventType.LEARNING_OUTCOME]
    assert everything == [EventType.GOVERNANCE_CHECK, EventType.LEARNING_OUTCOME]


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_a_raising_handler_is_logged_and_stops_neither_others_nor_the_publisher(
    kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    bus = EventBus()
    seen: list[str] = []

    def broken_sync(event: Event) -> None:
        raise ValueError("sync handler broke")

    async def broken_async(event: Event) -> None:
        await asyncio.sleep(0)
        raise ValueError("async handler broke")

    async def good_async(event: Event) -> None:
        seen.append("async")

    bus.subscribe(EventType.AGENT_ACTION, lambda e: seen.append("before"))
    bus.subscribe(EventType.AGENT_ACTION, broken_sync if kind == "sync" else broken_async)
    bus.subscribe(EventType.AGENT_ACTION, lambda e: seen.append("after"))
    bus.subscribe(EventType.AGENT_ACTION, good_async)
    with caplog.at_level(logging.ERROR, logger="grace_chat.events"):
        await bus.publish(Event(event_type=EventType.AGENT_ACTION, source="guardian"))
    assert sorted(seen) == ["after", "async", "before"]
    errors = [
        r for r in caplog.records if r.name == "grace_chat.events" and r.levelno >= logging.ERROR
    ]
    assert len(errors) == 1
    assert errors[0].exc_info is not None and f"{kind} handler broke" in str(errors[0].exc_info[1])


async def test_unsubscribe_stops_delivery_and_is_idempotent() -> None:
    bus = EventBus()
    seen: list[int] = []
    unsubscribe = bus.subscribe(EventType.MISSION_UPDATE, lambda e: seen.append(e.data["n"]))
    await bus.publish(Event(event_type=EventType.MISSION_UPDATE, source="m", data={"n": 1}))
    unsubscribe()
    unsubscribe()
    await bus.publish(Event(event_type=EventType.MISSION_UPDATE, source="m", data={"n": 2}))
    assert seen == [1]


async def test_publish_nowait_from_sync_code_then_drain_runs_every_handler() -> None:
    bus = EventBus()
    done: list[int] = []
    gate = asyncio.Event()

    async def slow(event: Event) -> None:
        await gate.wait()
        done.append(event.data["n"])

    bus.subscribe(EventType.TASK_COMPLETED, slow)

    def from_sync_code() -> None:
        for n in range(5):
            bus.publish_nowait(
                Event(event_type=EventType.TASK_COMPLETED, source="t", data={"n": n})
            )

    from_sync_code()
    assert done == []  # nothing ran yet: publish_nowait does not block
    asyncio.get_running_loop().call_soon(gate.set)
    await asyncio.wait_for(bus.drain(), 5)
    assert sorted(done) == [0, 1, 2, 3, 4]
    await bus.drain()  # nothing pending: returns at once


async def test_event_defaults_give_an_id_and_an_aware_timestamp() -> None:
    a, b = governance(), governance()
    assert a.id != b.id and len(a.id) == 32
    assert a.timestamp.tzinfo is not None and a.data == {}
    assert EventType("governance_check") is EventType.GOVERNANCE_CHECK
