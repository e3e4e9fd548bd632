""" "What is Grace doing?": the board composes each system's section and sentence; the task
runner's and the approval gateway's sections say what is running and what waits."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from grace_chat import Grace
from grace_chat.auth import Identity
from grace_chat.config import Settings
from grace_chat.status import StatusBoard, listed
from grace_chat.tasks.context import TaskContext

ANN = Identity("ann")


async def test_the_board_composes_sections_in_order_and_joins_their_sentences() -> None:
    board = StatusBoard()

    async def first(caller: Identity) -> tuple[dict[str, Any], str | None]:
        return {"who": caller.user_id}, "First is fine."

    async def quiet(caller: Identity) -> tuple[dict[str, Any], str | None]:
        return {"n": 0}, None

    async def second(caller: Identity) -> tuple[dict[str, Any], str | None]:
        return {}, "Second is busy."

    for name, provider in (("first", first), ("quiet", quiet), ("second", second)):
        board.add(name, provider)
    frame = await board.status(ANN)
    assert frame == {
        "type": "status",
        "first": {"who": "ann"},
        "quiet": {"n": 0},
        "second": {},
        "summary": "First is fine. Second is busy.",
    }
    assert (await StatusBoard().status(ANN))["summary"] == "Grace is idle."


async def test_a_failing_section_is_reported_and_the_others_still_answer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    board = StatusBoard()

    async def broken(caller: Identity) -> tuple[dict[str, Any], str | None]:
        raise OSError("disk gone")

    async def fine(caller: Identity) -> tuple[dict[str, Any], str | None]:
        return {"ok": True}, "All good."

    board.add("broken", broken)
    board.add("fine", fine)
    frame = await board.status(ANN)
    assert frame["broken"] == {"error": "unavailable"} and frame["fine"] == {"ok": True}
    assert frame["summary"] == "I could not read the broken status. All good."
    assert "status of broken failed" in caplog.text


def test_listed_names_three_then_counts_the_rest() -> None:
    assert listed([]) == "" and listed(["a"]) == "a"
    assert listed(["a", "b", "c"]) == "a, b, c"
    assert listed(["a", "b", "c", "d", "e"]) == "a, b, c and 2 more"


async def test_tasks_and_approvals_say_what_runs_and_what_waits(settings: Settings) -> None:
    started = asyncio.Event()

    async def long_job(ctx: TaskContext) -> None:
        ctx.progress(0.4)
        started.set()
        await asyncio.Event().wait()

    async with Grace(settings, systems=False) as grace:
        idle = await grace.status_board.status(ANN)
        assert idle["summary"] == (
            "No background tasks are running. Nothing is waiting for your approval."
        )
        await grace.start_background_task("backup", "ann", long_job, "backup_1", title="Backup")
        await asyncio.wait_for(started.wait(), 5)
        await grace.action_gateway.request_action("deploy_service", "bot", {}, user_id="ann")
        busy = await grace.status_board.status(ANN)
        others = await grace.status_board.status(Identity("bob"))
        await grace.tasks.cancel("backup_1", ANN)
    assert busy["summary"] == (
        "Grace is running 1 task: Backup (40%). 1 approval is waiting for you: deploy_service."
    )
    assert [t["task_id"] for t in busy["tasks"]["running"]] == ["backup_1"]
    assert others["tasks"]["running"] == [] and others["approvals"]["pending"] == []
