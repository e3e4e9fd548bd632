"""The published protocol (``protocol_schema()``) is the server's, in every committed copy.

The schema covers both directions: client commands (``grace_chat.protocol``) and server frames
(``grace_chat.frames``). The web tests (web/packages/client/src/protocol.test.ts) check the
TypeScript declarations against that file, and the tests here check it against the server: every
committed copy equals ``protocol_schema()`` (the wheel's, the npm package's: see
``tests/published.py``), and every frame a live server sends validates against its model, which
forbids undeclared fields. So a field added on either side fails a test until both agree.
Regenerate the copies with:

    .venv/bin/python -m tests.published
"""

from __future__ import annotations

import json
from typing import Any, get_args

import jsonschema_rs
import pytest
from pydantic import ValidationError

from grace_chat import frames
from grace_chat.approvals.model import ApprovalState
from grace_chat.config import Settings
from grace_chat.errors import ErrorCode
from grace_chat.frames import FRAMES
from grace_chat.learning.model import GateState
from grace_chat.notifications.model import Severity
from grace_chat.notifications.preferences import MODES
from grace_chat.protocol import (
    CONTROL_FRAME_TYPES,
    PROTOCOL_VERSION,
    SCHEMA_ID,
    protocol_schema,
)
from grace_chat.tasks.model import TaskState
from tests.published import REGENERATE, SCHEMA_COPIES, stale
from tests.support import Client, Frame, Running, serve

SCHEMA = SCHEMA_COPIES[0]


def test_committed_schema_matches_the_server() -> None:
    assert not (out := stale(SCHEMA_COPIES)), (
        f"{out} out of date with grace_chat.protocol / grace_chat.frames: run '{REGENERATE}', "
        "then update the TypeScript protocol.ts, frames.ts and schemaFields.ts to match"
    )


def test_the_schema_is_published_under_a_versioned_id() -> None:
    schema = protocol_schema()
    assert schema["$id"] == SCHEMA_ID
    assert f"/v{PROTOCOL_VERSION}/" in SCHEMA_ID
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    for name, part in {**schema["commands"], **schema["frames"]}.items():
        jsonschema_rs.validator_for(part)  # each entry is a schema of its own
        assert part["type"] == "object", name


async def test_the_server_publishes_the_same_schema(server: Running) -> None:
    async with server.http() as http:
        response = await http.get("/api/protocol")
    assert response.status_code == 200
    assert response.json() == json.loads(SCHEMA.read_text())


def test_every_control_frame_and_the_notification_frame_are_declared() -> None:
    # "hello" is a control frame name only so that no notification type can take it
    assert set(FRAMES) == (CONTROL_FRAME_TYPES - {"hello"}) | {"notification"}
    for name, model in FRAMES.items():
        if name != "notification":
            assert model.model_json_schema()["properties"]["type"]["const"] == name


def test_the_frames_enumerations_are_the_servers() -> None:
    assert get_args(frames.TaskState) == tuple(s.value for s in TaskState)
    assert get_args(frames.ApprovalState) == tuple(s.value for s in ApprovalState)
    assert get_args(frames.Severity) == tuple(s.value for s in Severity)
    assert get_args(frames.LearningState) == tuple(s.value for s in GateState)
    assert frames.ErrorFrame.model_fields["code"].annotation is ErrorCode
    assert get_args(frames.NotificationMode) == MODES
    assert set(get_args(frames.TaskEnd)) == {s.value for s in TaskState if not s.active}


def declared(frame: Frame) -> str:
    """Validate one frame as the client receives it (JSON) against its model; its name."""
    name = frame["type"] if frame["type"] in CONTROL_FRAME_TYPES else "notification"
    try:
        FRAMES[name].model_validate_json(json.dumps(frame), strict=True)
    except ValidationError as exc:
        pytest.fail(f"grace_chat.frames does not declare this {name} frame: {exc}")
    return name


def test_a_frame_with_an_undeclared_or_missing_field_is_refused() -> None:
    ack = {"type": "acked", "seq": 3, "ref": "c1"}
    assert declared(ack) == "acked"
    for wrong in ({**ack, "extra": 1}, {"type": "acked", "ref": "c1"}, {**ack, "seq": "3"}):
        with pytest.raises(pytest.fail.Exception):
            declared(wrong)


TASKS = {"tasks": {"backup": {"command": "echo started; sleep 30"}}}


async def test_every_frame_a_live_server_sends_is_declared(settings: Settings) -> None:
    seen: set[str] = set()

    def check(*received: Frame) -> None:
        seen.update(declared(frame) for frame in received)

    async with serve(
        settings.with_(file={**settings.file, **TASKS}, away_digest_threshold=2)
    ) as srv:
        grace = srv.grace
        await grace.notify_user("ann", "task_completed", "Deployment finished", data={"v": 2})
        async with Client.connect(srv, "ann", since=0) as ann, Client.connect(srv, "ann") as tab:
            welcome, replay, synced = await ann.welcome()
            check(welcome, *replay, synced)
            tab_welcome, _, tab_synced = await tab.welcome()
            check(tab_welcome, tab_synced)

            async def reply(command: dict[str, Any]) -> Frame:
                frame = await ann.command(command, timeout=10)
                check(frame)
                return frame

            await reply({"type": "ping"})
            await reply({"type": "ack", "seq": 1})
            await reply({"type": "mark_read", "all": True})
            check(await tab.expect("read"))  # pushed to the user's other connection
            task = (await reply({"type": "start_task", "task_type": "backup"}))["task"]
            await reply({"type": "list_tasks"})
            check(*await ann.until("task_started"))
            await reply({"type": "pause_task", "task_id": task["task_id"]})
            await reply({"type": "resume_task", "task_id": task["task_id"]})
            await reply({"type": "task_logs", "task_id": task["task_id"]})
            await reply({"type": "cancel_task", "task_id": task["task_id"]})
            await reply({"type": "pause_learning"})
            await reply({"type": "resume_learning"})
            asked = await grace.action_gateway.request_action(
                "modify_file", "learning_supervisor", {"file_path": "a.yaml"}, user_id="ann"
            )
            check(*await ann.until("approval_needed"))
            decision = await reply({"type": "approve", "approval_id": asked["approval_id"]})
            assert decision["decided"] is True
            await reply({"type": "status"})
            await reply({"type": "chat", "text": "show background tasks"})
            error = await reply({"type": "cancel_task", "task_id": "no-such-task"})
            assert error["type"] == "error"
            check(*ann.buffer)
            async with srv.http() as http:
                await http.put(
                    "/api/preferences/types/task_progress",
                    json={"mode": "silent"},
                    headers=srv.auth("ann"),
                )
            while (pushed := await tab.recv())["type"] != "preferences":
                check(pushed)
            check(pushed)  # pushed to every chat of the user
        # a client that knows more than this server's log gets a gap
        async with Client.connect(srv, "ann", since=10_000) as late:
            _, _, gap = await late.welcome()
            assert gap.get("gap") is True
            check(gap)
        # one that missed away_digest_threshold notifications or more gets their summary
        async with Client.connect(srv, "ann", since=0) as back:
            _, replay, synced = await back.welcome()
            assert synced["summary"]["count"] == len(replay)
            check(synced)
    assert seen == set(FRAMES), f"not exercised: {set(FRAMES) - seen}"
