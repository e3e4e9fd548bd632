"""Approvals in a cluster: two Grace applications (two processes' worth of parts: each its own
connections, instance, leader loop) on one PostgreSQL schema. A caller waiting on one returns
when the person decides on the other; of two decisions made on the two at once exactly one
wins; an approval expires once, announced once. Missions are commanded from either.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from grace_chat.app import Grace
from grace_chat.approvals.model import ApprovalState
from grace_chat.auth import Identity
from grace_chat.config import Settings
from grace_chat.errors import Conflict, Forbidden, NotFound
from grace_chat.events import Event, EventType
from grace_chat.missions.model import MissionState, Step
from grace_chat.tasks.context import TaskContext
from grace_chat.tasks.types import TaskSpec
from tests.support.grace_process import until

ANN = Identity("ann")
#: Long: a waiter that returns sooner was woken by the other process's signal, not by its poll.
POLL = 5.0


def cluster_settings(data_dir: Path, url: str) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=url,
        file={"guardian": {"metrics": []}},
        cluster_heartbeat_seconds=0.2,
        cluster_owner_timeout_seconds=3.0,
        cluster_poll_seconds=POLL,
    )


async def forever(ctx: TaskContext) -> None:
    while True:
        await ctx.checkpoint()
        await asyncio.sleep(0.02)


@pytest.fixture
async def pair(postgres_url: str, tmp_path: Path) -> AsyncIterator[tuple[Grace, Grace]]:
    a = Grace(cluster_settings(tmp_path / "a", postgres_url), systems={"missions"})
    b = Grace(cluster_settings(tmp_path / "b", postgres_url), systems={"missions"})
    for grace in (a, b):
        grace.tasks.types.add(TaskSpec("forever", fn=forever))
    async with a, b:
        yield a, b


async def test_a_wait_on_one_process_returns_when_the_person_decides_on_the_other(
    pair: tuple[Grace, Grace],
) -> None:
    a, b = pair
    waiting = asyncio.create_task(
        b.action_gateway.request_action("deploy", "ci", user_id="ann", wait=30)
    )
    deadline = time.monotonic() + 10
    while not (found := await a.action_gateway.list_approvals(ANN, ApprovalState.PENDING)):
        assert time.monotonic() < deadline, "the request was not stored"
        await asyncio.sleep(0.02)
    pending = found[0].approval_id
    started = time.monotonic()
    approval, changed = await a.action_gateway.decide(pending, ANN, True, "fine")
    assert changed and approval.state is ApprovalState.APPROVED
    outcome = await asyncio.wait_for(waiting, 10)
    assert outcome["approved"] is True and outcome["status"] == "approved"
    assert outcome["reason"] == "fine"
    assert time.monotonic() - started < POLL / 2  # woken, not polled


async def test_two_decisions_on_two_processes_at_once_one_wins(
    pair: tuple[Grace, Grace],
) -> None:
    a, b = pair
    for _ in range(5):
        asked = await a.action_gateway.request_action("deploy", "ci", user_id="ann")
        approval_id = asked["approval_id"]
        (first, won_a), (second, won_b) = await asyncio.gather(
            a.action_gateway.decide(approval_id, ANN, True),
            b.action_gateway.decide(approval_id, ANN, False),
        )
        assert won_a != won_b
        assert first.state is second.state  # the loser is told what won
        entries = await a.action_gateway.audit_log(ANN, approval_id)
        events = sorted(e.event for e in entries)
        assert events == sorted(["requested", first.state.value, "decision_ignored"])


async def test_an_approval_expires_once_for_the_whole_cluster(
    pair: tuple[Grace, Grace],
) -> None:
    a, b = pair
    decided: list[Event] = []
    for grace in (a, b):
        grace.event_bus.subscribe(EventType.APPROVAL_DECIDED, decided.append)
    asked = await b.action_gateway.request_action("deploy", "ci", user_id="ann", expires_in=0.3)
    approval_id = asked["approval_id"]
    stored = await until(
        lambda: [e for e in decided if e.data["approval_id"] == approval_id], 10, "the expiry"
    )
    await asyncio.sleep(0.5)
    assert len(stored) == 1 and stored[0].data["state"] == "expired"
    entries = await a.action_gateway.audit_log(ANN, approval_id)
    assert [e.event for e in entries].count("expired") == 1
    assert sum(g.cluster is not None and g.cluster.leading for g in (a, b)) == 1


async def test_mission_controls_on_one_process_reach_the_mission_the_other_runs(
    pair: tuple[Grace, Grace],
) -> None:
    a, b = pair
    assert a.missions is not None and b.missions is not None
    mission = await b.missions.start_mission("ann", "long", steps=(Step("forever"),))
    step = f"{mission.mission_id}.step1"
    deadline = time.monotonic() + 10
    while (await b.tasks.store.get(step)) is None:
        assert time.monotonic() < deadline, "the mission's step did not start"
        await asyncio.sleep(0.02)
    with pytest.raises(Forbidden):
        await a.missions.pause(mission.mission_id, Identity("mallory"))
    with pytest.raises(NotFound):
        await a.missions.pause("mission_none", ANN)
    paused = await a.missions.pause(mission.mission_id, ANN)
    assert paused.state is MissionState.PAUSED
    with pytest.raises(Conflict):
        await a.missions.pause(mission.mission_id, ANN)
    resumed = await a.missions.resume(mission.mission_id, ANN)
    assert resumed.state is MissionState.RUNNING
    cancelled = await a.missions.cancel(mission.mission_id, ANN)
    assert cancelled.state is MissionState.CANCELLED
    final = await b.missions.wait(mission.mission_id)
    assert final.state is MissionState.CANCELLED
