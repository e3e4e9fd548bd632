"""Mission control: ordered steps, completion, failure, control."""

from __future__ import annotations

import pytest

from grace_chat.config import Settings
from grace_chat.missions.model import MissionState
from tests.support import Client, serve

pytestmark = pytest.mark.engines
FILE = {
    "tasks": {
        "build": {"command": "echo built"},
        "ship": {"command": "echo shipped {version}"},
        "broken": {"command": "echo no disk; exit 1"},
        "slow": {"command": "sleep 30"},
    },
    "missions": {
        "release": {
            "steps": [{"task_type": "build"}, {"task_type": "ship", "params": {"version": "2.1"}}]
        },
        "doomed": {
            "steps": [{"task_type": "build"}, {"task_type": "broken"}, {"task_type": "ship"}]
        },
        "long": {"steps": [{"task_type": "slow"}, {"task_type": "build"}]},
    },
}


async def test_two_step_mission_completes_in_order(settings: Settings) -> None:
    async with (
        serve(settings.with_(file={**settings.file, **FILE})) as srv,
        Client.connect(srv, "user") as c,
    ):
        await c.welcome()
        async with srv.http() as http:
            started = await http.post(
                "/api/missions",
                json={"name": "release", "mission_id": "mission_123"},
                headers=srv.auth("user"),
            )
        assert started.status_code == 201
        frames = await c.until("mission_completed", 15, skip_progress=False)
    assert [(f["type"], f.get("data", {}).get("task_id")) for f in frames] == [
        ("mission_started", None),
        ("task_started", "mission_123.step1"),
        ("task_completed", "mission_123.step1"),
        ("task_started", "mission_123.step2"),
        ("task_completed", "mission_123.step2"),
        ("mission_completed", None),
    ]
    assert frames[-1]["message"] == "Mission mission_123 completed" and frames[-1]["badge"] == "✅"


async def test_a_failing_step_fails_the_mission_and_later_steps_never_run(
    settings: Settings,
) -> None:
    async with (
        serve(settings.with_(file={**settings.file, **FILE})) as srv,
        Client.connect(srv, "user") as c,
    ):
        await c.welcome()
        control = srv.grace.missions
        assert control is not None
        mission = await control.start_mission("user", "doomed", mission_id="m2")
        frames = await c.until("mission_failed", 15, skip_progress=False)
        final = await control.wait(mission.mission_id)
    assert (
        frames[-1]["message"] == "Mission m2 failed: step 2 (broken) failed: exit code 1: no disk"
    )
    assert frames[-1]["badge"] == "❌"
    assert final.state is MissionState.FAILED and len(final.task_ids) == 2


async def test_missions_are_listed_paused_resumed_and_cancelled(settings: Settings) -> None:
    async with (
        serve(settings.with_(file={**settings.file, **FILE})) as srv,
        Client.connect(srv, "user") as c,
    ):
        await c.welcome()
        auth = srv.auth("user")
        async with srv.http() as http:
            await http.post(
                "/api/missions", json={"name": "long", "mission_id": "m3"}, headers=auth
            )
            await c.until("task_started", 15, skip_progress=False)
            listing = (await http.get("/api/missions", headers=auth)).json()
            assert [m["mission_id"] for m in listing["missions"]] == ["m3"]
            assert listing["missions"][0]["state"] == "running"
            paused = await http.post("/api/missions/m3/pause", headers=auth)
            assert paused.json()["state"] == "paused"
            await c.until("task_paused", 15, skip_progress=False)
            resumed = await http.post("/api/missions/m3/resume", headers=auth)
            assert resumed.json()["state"] == "running"
            cancelled = await http.post("/api/missions/m3/cancel", headers=auth)
            assert cancelled.json()["state"] == "cancelled"
            frames = await c.until("task_cancelled", 15, skip_progress=False)
            other = await http.get("/api/missions/m3", headers=srv.auth("bob"))
            assert other.status_code == 403
            unknown = await http.post("/api/missions", json={"name": "nope"}, headers=auth)
            assert unknown.status_code == 404
    assert any(f["message"] == "Mission m3 cancelled" for f in frames)
