"""The cluster's parts, with two Grace applications in one test (two processes' worth: each its
own connections, instance and leader loop) on one PostgreSQL schema. A caller waiting on an
approval in one returns when the person decides in the other; of two decisions made at once
exactly one wins; an approval expires once, announced once. Missions and learning are commanded
from either. A control request whose wake-up was lost is still applied, once.
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
from grace_chat.errors import ConfigError, Conflict, ErrorCode, Forbidden, NotFound, error_from
from grace_chat.events import Event, EventType
from grace_chat.missions.model import MissionState, Step
from grace_chat.tasks.context import TaskContext
from grace_chat.tasks.types import TaskSpec
from tests.support.grace_process import until
from tests.support.postgres import sql

ANN = Identity("ann")
#: Long: a waiter that returns sooner was woken by the other process's signal, not by its poll.
POLL = 5.0


def cluster_settings(data_dir: Path, url: str) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=url,
        file={"guardian": {"metrics": []}},
        cluster_heartbeat_seconds=0.2,
        cluster_owner_timeout_seconds=6.0,
        cluster_poll_seconds=POLL,
    )


async def forever(ctx: TaskContext) -> None:
    while True:
        await ctx.checkpoint()
        await asyncio.sleep(0.02)


@pytest.fixture
async def pair(postgres_url: str, tmp_path: Path) -> AsyncIterator[tuple[Grace, Grace]]:
    chosen = {"missions", "learning"}
    a = Grace(cluster_settings(tmp_path / "a", postgres_url), systems=chosen)
    b = Grace(cluster_settings(tmp_path / "b", postgres_url), systems=chosen)
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


async def test_learning_paused_on_one_process_is_paused_on_the_other(
    pair: tuple[Grace, Grace],
) -> None:
    a, b = pair
    assert a.learning is not None and b.learning is not None
    assert await a.learning.pause(ANN) is True
    assert await b.learning.pause(ANN) is False  # as a second pause on one process
    await until(lambda: b.learning and b.learning.held("ann"), 10, "B's view of the gate")
    assert await b.learning.resume(ANN) is True
    assert await a.learning.resume(ANN) is False
    await until(lambda: a.learning and not a.learning.held("ann"), 10, "A's view of the gate")


async def test_a_request_whose_wake_up_was_lost_is_applied_once(
    pair: tuple[Grace, Grace], postgres_url: str
) -> None:
    a, b = pair
    assert a.cluster is not None and b.cluster is not None
    paused: list[Event] = []
    b.event_bus.subscribe(EventType.TASK_PAUSED, paused.append)
    task = await b.tasks.start_task(user_id="ann", task_type="forever")
    deadline = time.monotonic() + 10
    while (await b.tasks.get(task.task_id, ANN)).state.value != "running":
        assert time.monotonic() < deadline, "the task did not start"
        await asyncio.sleep(0.02)
    # stored, never notified: as if the wake-up was lost on the way
    await sql(
        postgres_url,
        "INSERT INTO control_requests (request_id, owner, requester, kind, target, caller, "
        "admin, args) VALUES ('lost', $1, $2, 'task.pause', $3, 'ann', false, '{}')",
        b.cluster.instance,
        a.cluster.instance,
        task.task_id,
    )

    async def state() -> str:
        rows = await sql(postgres_url, "SELECT state FROM control_requests")
        return str(rows[0][0])

    deadline = time.monotonic() + 5
    while await state() != "done":
        assert time.monotonic() < deadline, "the owner did not find the request"
        await asyncio.sleep(0.02)
    await until(lambda: paused, 5, "the task paused")
    for _ in range(3):  # late and repeated wake-ups change nothing
        await sql(postgres_url, "SELECT pg_notify($1, 'qlost')", f"grace_p_{b.cluster.instance}")
    await asyncio.sleep(0.5)
    assert len(paused) == 1
    assert (await b.tasks.get(task.task_id, ANN)).state.value == "paused"
    await b.tasks.cancel(task.task_id, ANN)


def test_the_cluster_settings_are_checked_and_read_from_the_environment() -> None:
    env = {
        "GRACE_CLUSTER_HEARTBEAT": "0.5",
        "GRACE_CLUSTER_OWNER_TIMEOUT": "4",
        "GRACE_CLUSTER_POLL": "0.25",
        "GRACE_CLUSTER_COMMAND_TIMEOUT": "3",
    }
    s = Settings.from_env(env)
    assert (s.cluster_heartbeat_seconds, s.cluster_owner_timeout_seconds) == (0.5, 4.0)
    assert (s.cluster_poll_seconds, s.cluster_command_timeout_seconds) == (0.25, 3.0)
    assert Settings().cluster_owner_timeout_seconds <= 30
    with pytest.raises(ConfigError, match="more than twice"):
        Settings(cluster_heartbeat_seconds=5, cluster_owner_timeout_seconds=8)
    for bad in (0, -1, float("inf"), float("nan")):
        with pytest.raises(ConfigError, match="cluster_poll_seconds"):
            Settings(cluster_poll_seconds=bad)
    with pytest.raises(ConfigError, match="GRACE_CLUSTER_POLL must be a number"):
        Settings.from_env({"GRACE_CLUSTER_POLL": "soon"})


async def test_the_guardian_checks_in_the_leader_only_and_moves_when_it_stops(
    postgres_url: str, tmp_path: Path
) -> None:
    a = Grace(cluster_settings(tmp_path / "a", postgres_url), systems={"guardian"})
    b = Grace(cluster_settings(tmp_path / "b", postgres_url), systems={"guardian"})
    assert a.guardian is not None and b.guardian is not None
    assert a.cluster is not None and b.cluster is not None
    try:
        await a.start()
        await until(lambda: a.cluster and a.cluster.leading, 10, "a to lead")
        await until(lambda: a.guardian and a.guardian.rounds, 10, "a's first check")
        await b.start()
        await asyncio.sleep(1)  # five of b's heartbeats
        assert not b.cluster.leading and b.guardian.rounds == 0
        await a.stop()
        await until(lambda: b.cluster and b.cluster.leading, 10, "b to take over")
        await until(lambda: b.guardian and b.guardian.rounds, 10, "b's first check")
    finally:
        await b.stop()
        await a.stop()


def test_an_error_raised_in_another_process_is_raised_again_with_its_code_and_message() -> None:
    raised = (
        ErrorCode.BAD_REQUEST,
        ErrorCode.FORBIDDEN,
        ErrorCode.NOT_FOUND,
        ErrorCode.CONFLICT,
        ErrorCode.UNAVAILABLE,
        ErrorCode.RATE_LIMITED,
        ErrorCode.TOO_LARGE,
    )
    for code in raised:
        again = error_from(code.value, f"said {code.value}")
        assert again.code is code and again.message == f"said {code.value}"
    assert isinstance(error_from("conflict", "x"), Conflict)
    assert error_from("no-such-code", "x").code is ErrorCode.INTERNAL
