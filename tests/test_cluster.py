"""Three real ``grace serve`` processes on one PostgreSQL schema and the machine's Redis: a
person's command sent to one process acts on the task another runs and is answered on the
process that got it, with the same ref and the same answers as on one process (``conflict``,
``not_found``, ``forbidden``); a cancel that races the task's own finish gets one clear answer;
a cancel sent to two processes at once cancels once; a killed process's tasks become
``interrupted`` within the owner timeout and their users are told once; one process leads,
another takes over when it is killed, and when it is stopped (``SIGSTOP``) while connected: a
stuck leader is replaced, its tasks are interrupted and their users told once, and when it wakes
up it neither leads nor announces the end of a task it was relieved of.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.grace_process import GraceProcess, until, write_toml
from tests.test_redis_processes import ADMIN, SECRET, TOKENS, Client

#: A silent process is taken for dead after this; a killed one is noticed at the next sweep.
OWNER_TIMEOUT = 6.0
CLUSTER_ENV = {
    "GRACE_SECRET": SECRET,
    "GRACE_CLUSTER_HEARTBEAT": "0.3",
    "GRACE_CLUSTER_OWNER_TIMEOUT": str(OWNER_TIMEOUT),
    "GRACE_CLUSTER_POLL": "0.3",
    "GRACE_CLUSTER_COMMAND_TIMEOUT": "5",
}
#: ``short`` ends by itself a little after it starts, ``slow`` a few seconds after; the
#: guardian samples nothing here.
TOML = (
    '[tasks.short]\ncommand = "sleep 0.3"\n\n[tasks.slow]\ncommand = "sleep 3"\n\n'
    "[guardian]\nmetrics = []\n"
)


async def start_process(data_dir: Path, env: dict[str, str]) -> GraceProcess:
    write_toml(data_dir, TOML)
    return await GraceProcess.start(data_dir, python_tasks=True, env=env)


@pytest.fixture
def cluster_env(postgres_url: str, redis_url: str, redis_prefix: str) -> dict[str, str]:
    return {
        **CLUSTER_ENV,
        "GRACE_DATABASE_URL": postgres_url,
        "GRACE_REDIS_URL": redis_url,
        "GRACE_REDIS_PREFIX": redis_prefix,
    }


@pytest.fixture
async def servers(cluster_env: dict[str, str], tmp_path: Path) -> AsyncIterator[list[GraceProcess]]:
    started = await asyncio.gather(
        *(start_process(tmp_path / f"p{n}", cluster_env) for n in range(3)),
        return_exceptions=True,
    )
    running = [s for s in started if isinstance(s, GraceProcess)]
    try:
        for outcome in started:
            if isinstance(outcome, BaseException):
                raise outcome
        yield running
    finally:
        for server in running:
            await server.kill()


def http(server: GraceProcess, user: str, admin: bool = False) -> httpx.AsyncClient:
    token = ADMIN if admin else TOKENS.issue(user)
    return httpx.AsyncClient(
        base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )


async def start_task(server: GraceProcess, user: str, task_type: str = "py-wait") -> str:
    async with http(server, user) as client:
        response = await client.post("/api/tasks", json={"task_type": task_type})
    assert response.status_code == 201, response.text
    task_id: str = response.json()["task_id"]
    return task_id


async def state_of(server: GraceProcess, user: str, task_id: str) -> str:
    async with http(server, user) as client:
        response = await client.get(f"/api/tasks/{task_id}")
    assert response.status_code == 200, response.text
    state: str = response.json()["state"]
    return state


async def until_state(
    server: GraceProcess, user: str, task_id: str, states: set[str], timeout: float = 10
) -> str:
    deadline = time.monotonic() + timeout
    while (state := await state_of(server, user, task_id)) not in states:
        if time.monotonic() > deadline:
            raise AssertionError(f"task {task_id} is {state}, not one of {sorted(states)}")
        await asyncio.sleep(0.02)
    return state


def notes(client: Client, kind: str, task_id: str) -> list[dict[str, Any]]:
    return [
        f
        for f in client.frames
        if f.get("type") == kind and (f.get("data") or {}).get("task_id") == task_id
    ]


def answer(reply: dict[str, Any]) -> str:
    """``ok`` for a task reply, else the error's code."""
    if reply.get("type") == "error":
        return str(reply["code"])
    assert reply["type"] == "task", reply
    return "ok"


_refs = itertools.count(1)


async def command(client: Client, kind: str, task_id: str) -> dict[str, Any]:
    ref = f"c{next(_refs)}"
    reply = await client.send({"type": kind, "id": ref, "task_id": task_id})
    assert reply["ref"] == ref
    return reply


async def test_commands_sent_to_one_process_act_on_the_task_another_runs(
    servers: list[GraceProcess],
) -> None:
    a, b, c = servers
    on_a, watcher, mallory = Client("ann"), Client("ann"), Client("mallory")
    await on_a.connect(a.url)
    await watcher.connect(c.url)
    await mallory.connect(a.url)
    task_id = await start_task(b, "ann")
    await until_state(a, "ann", task_id, {"running"})

    paused = await command(on_a, "pause_task", task_id)
    assert answer(paused) == "ok" and paused["task"]["task_id"] == task_id
    assert paused["task"]["state"] == "paused" or paused["task"]["pause_requested"]
    await until_state(c, "ann", task_id, {"paused"})
    again = await command(on_a, "pause_task", task_id)
    assert answer(again) == "conflict" and "already paused" in again["message"]

    assert answer(await command(mallory, "cancel_task", task_id)) == "forbidden"
    assert answer(await command(on_a, "cancel_task", "task_nothing_here")) == "not_found"

    resumed = await command(on_a, "resume_task", task_id)
    assert answer(resumed) == "ok"
    await until_state(a, "ann", task_id, {"running"})

    cancelled = await command(on_a, "cancel_task", task_id)
    assert answer(cancelled) == "ok"
    assert cancelled["task"]["state"] in ("cancelling", "cancelled")
    await until_state(c, "ann", task_id, {"cancelled"})
    await until(lambda: notes(watcher, "task_cancelled", task_id), 10, "task_cancelled")
    await until(lambda: notes(on_a, "task_cancelled", task_id), 10, "task_cancelled on A")
    late = await command(on_a, "cancel_task", task_id)
    assert answer(late) == "conflict" and "already cancelled" in late["message"]
    assert len(notes(watcher, "task_cancelled", task_id)) == 1
    for client in (on_a, watcher, mallory):
        await client.close()


async def test_a_cancel_sent_to_two_processes_at_once_cancels_once(
    servers: list[GraceProcess],
) -> None:
    a, b, c = servers
    on_a, on_c = Client("ann"), Client("ann")
    await on_a.connect(a.url)
    await on_c.connect(c.url)
    for _ in range(3):
        task_id = await start_task(b, "ann")
        await until_state(a, "ann", task_id, {"running"})
        first, second = await asyncio.gather(
            command(on_a, "cancel_task", task_id), command(on_c, "cancel_task", task_id)
        )
        answers = sorted([answer(first), answer(second)])
        # one cancels; the other is what a second cancel gets on one process: the task while
        # it is still cancelling, or conflict once it is cancelled
        assert answers in (["ok", "ok"], ["conflict", "ok"]), (first, second)
        for reply in (first, second):
            if answer(reply) == "conflict":
                assert "already cancelled" in reply["message"]
        await until_state(b, "ann", task_id, {"cancelled"})
        await until(lambda t=task_id: notes(on_a, "task_cancelled", t), 10, "task_cancelled")
    await until(lambda: len(on_c.of_type("task_cancelled")) == 3, 10, "three on C")
    await asyncio.sleep(0.5)  # nothing more comes
    assert len(on_a.of_type("task_cancelled")) == 3
    assert len(on_c.of_type("task_cancelled")) == 3
    await on_a.close()
    await on_c.close()


async def test_a_cancel_that_races_the_tasks_own_finish_gets_one_clear_answer(
    servers: list[GraceProcess],
) -> None:
    a, b, _ = servers
    watcher = Client("ann")
    await watcher.connect(a.url)
    finals: dict[str, str] = {}
    for _ in range(8):
        task_id = await start_task(b, "ann", "short")
        await until_state(a, "ann", task_id, {"running", "succeeded"})
        await asyncio.sleep(random.uniform(0.15, 0.4))  # around the moment it ends by itself
        reply = await command(watcher, "cancel_task", task_id)
        final = await until_state(a, "ann", task_id, {"cancelled", "succeeded"})
        if answer(reply) == "conflict":
            assert "already succeeded" in reply["message"] or "cannot become" in reply["message"]
            assert final == "succeeded"
        else:
            assert answer(reply) == "ok", reply
        finals[task_id] = final

    def told() -> bool:
        return all(
            notes(watcher, "task_completed", t) or notes(watcher, "task_cancelled", t)
            for t in finals
        )

    await until(told, 10, "every task's last word")
    await asyncio.sleep(0.3)
    for task_id, final in finals.items():
        done, cancelled = (
            notes(watcher, "task_completed", task_id),
            notes(watcher, "task_cancelled", task_id),
        )
        assert len(done) + len(cancelled) == 1, (task_id, final, done, cancelled)
        assert (final == "succeeded") == bool(done)
    await watcher.close()


async def test_a_killed_process_s_tasks_are_interrupted_in_time_and_told_once(
    servers: list[GraceProcess], cluster_env: dict[str, str], tmp_path: Path
) -> None:
    a, b, c = servers
    watcher = Client("ann")
    await watcher.connect(a.url)
    doomed = await start_task(c, "ann")
    survivor = await start_task(b, "ann")
    for task_id in (doomed, survivor):
        await until_state(a, "ann", task_id, {"running"})
    killed_at = time.monotonic()
    c.proc.send_signal(signal.SIGKILL)
    assert await c.exited() == -signal.SIGKILL
    await until_state(a, "ann", doomed, {"interrupted"}, timeout=OWNER_TIMEOUT + 5)
    assert time.monotonic() - killed_at < OWNER_TIMEOUT  # its closed connection tells at once
    await until(lambda: notes(watcher, "task_interrupted", doomed), 10, "task_interrupted")
    cancel = await command(watcher, "cancel_task", doomed)
    assert answer(cancel) == "conflict"

    restarted = await start_process(tmp_path / "p3", cluster_env)  # a restart elsewhere
    try:
        await asyncio.sleep(3)  # ten sweeps and heartbeats
        assert await state_of(restarted, "ann", survivor) == "running"
        assert len(notes(watcher, "task_interrupted", doomed)) == 1
        assert notes(watcher, "task_interrupted", survivor) == []
        assert answer(await command(watcher, "cancel_task", survivor)) == "ok"
        await until_state(restarted, "ann", survivor, {"cancelled"})
    finally:
        await restarted.kill()
    await watcher.close()


async def leaders(servers: list[GraceProcess]) -> list[GraceProcess]:
    found = []
    for server in servers:
        async with http(server, "backend", admin=True) as client:
            response = await client.get("/api/status")
        assert response.status_code == 200, response.text
        if response.json()["cluster"]["leading"]:
            found.append(server)
    return found


async def until_one_leader(servers: list[GraceProcess], timeout: float) -> GraceProcess:
    deadline = time.monotonic() + timeout
    while len(found := await leaders(servers)) != 1:
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(found)} leaders after {timeout:g}s")
        await asyncio.sleep(0.05)
    return found[0]


async def test_one_process_leads_and_another_takes_over_when_it_is_killed(
    servers: list[GraceProcess],
) -> None:
    leader = await until_one_leader(servers, 10)
    others = [s for s in servers if s is not leader]
    async with http(others[0], "backend", admin=True) as client:
        response = await client.post(
            "/api/approvals",
            json={"action_type": "deploy", "agent": "ci", "user_id": "ann", "expires_in": 0.5},
        )
    assert response.status_code == 201, response.text
    approval_id = response.json()["approval_id"]
    async with http(others[1], "ann") as client:

        async def expired() -> bool:
            got = await client.get(f"/api/approvals/{approval_id}")
            return bool(got.json()["state"] == "expired")

        deadline = time.monotonic() + 10
        while not await expired():
            assert time.monotonic() < deadline, "the approval did not expire"
            await asyncio.sleep(0.05)
        audit = (await client.get("/api/audit", params={"approval_id": approval_id})).json()
    assert [e["event"] for e in audit["entries"]].count("expired") == 1

    killed_at = time.monotonic()
    leader.proc.send_signal(signal.SIGKILL)
    assert await leader.exited() == -signal.SIGKILL
    successor = await until_one_leader(others, 10)
    assert successor in others
    assert time.monotonic() - killed_at < OWNER_TIMEOUT


async def test_a_stuck_leader_is_replaced_and_wakes_up_without_leading_or_speaking(
    servers: list[GraceProcess],
) -> None:
    leader = await until_one_leader(servers, 10)
    others = [s for s in servers if s is not leader]
    watcher = Client("ann")
    await watcher.connect(others[0].url)
    task_id = await start_task(leader, "ann", "slow")  # its shell ends while the leader is stopped
    await until_state(others[0], "ann", task_id, {"running"})
    stopped_at = time.monotonic()
    leader.proc.send_signal(signal.SIGSTOP)
    try:
        successor = await until_one_leader(others, OWNER_TIMEOUT + 10)
        took_over = time.monotonic() - stopped_at
        await until_state(others[1], "ann", task_id, {"interrupted"}, timeout=OWNER_TIMEOUT + 10)
        interrupted = time.monotonic() - stopped_at
        assert took_over < OWNER_TIMEOUT + 5, took_over
        assert interrupted < OWNER_TIMEOUT + 5, interrupted
        await until(lambda: notes(watcher, "task_interrupted", task_id), 10, "task_interrupted")
    finally:
        leader.proc.send_signal(signal.SIGCONT)
    # awake: it answers that it does not lead, and once its own run of the task is over it
    # answers from the store, where the task stays interrupted
    assert leader not in await leaders(servers)
    await until_state(leader, "ann", task_id, {"interrupted"})
    await asyncio.sleep(1)  # ample time for a late word about the task to arrive
    assert len(notes(watcher, "task_interrupted", task_id)) == 1
    assert notes(watcher, "task_completed", task_id) == []
    assert await leaders(servers) == [successor]
    assert await state_of(successor, "ann", task_id) == "interrupted"
    await watcher.close()
