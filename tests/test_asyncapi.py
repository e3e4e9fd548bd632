"""The AsyncAPI 3.0 document of the stream: committed as generated, well formed, and true.

Its validity against the specification's own JSON Schema (the AsyncAPI Initiative's
``@asyncapi/specs``, an npm package) is checked by ``web/src/asyncapi.test.ts``; here, what that
schema cannot say: every reference resolves, an operation's messages are its channel's. The
payload schemas are compiled and used on the frames a live server sends and on the commands it
accepts or refuses.
"""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema_rs
import pytest

from grace_chat.asyncapi import SSE_FRAMES, asyncapi_document
from grace_chat.errors import GraceError
from grace_chat.frames import FRAMES
from grace_chat.protocol import COMMANDS, CONTROL_FRAME_TYPES, STREAM_PATH, parse_command
from tests.published import ASYNCAPI_COPIES, REGENERATE, stale
from tests.support import Client, Running

DOC = asyncapi_document()
KEY = re.compile(r"^[a-zA-Z0-9.\-_]+$")  # component and map keys, as the specification allows


def resolve(ref: str) -> Any:
    assert ref.startswith("#/"), f"{ref}: only local references are used"
    node: Any = DOC
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"{ref} does not resolve"
        node = node[part]
    return node


def follow(ref: str) -> Any:
    """What ``ref`` points at, following references to references."""
    node = resolve(ref)
    return follow(node["$ref"]) if "$ref" in node else node


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in refs(value)]
    return []


def payload_validator(message_key: str) -> jsonschema_rs.Validator:
    payload = DOC["components"]["messages"][message_key]["payload"]
    return jsonschema_rs.validator_for({**payload, "components": DOC["components"]})


def test_the_committed_documents_are_generated() -> None:
    assert not (out := stale(ASYNCAPI_COPIES)), f"{out} out of date: run '{REGENERATE}'"


def test_the_document_has_what_asyncapi_3_requires() -> None:
    assert DOC["asyncapi"] == "3.0.0"
    assert DOC["info"]["title"] and DOC["info"]["version"]
    assert DOC["defaultContentType"] == "application/json"
    for server in DOC["servers"].values():
        assert server["host"] and server["protocol"] in {"ws", "wss", "http", "https"}
    for section in ("servers", "channels", "operations"):
        assert all(KEY.match(key) for key in DOC[section]), section
    for kind, items in DOC["components"].items():
        assert all(KEY.match(key) for key in items), kind
    for ref in refs(DOC):
        resolve(ref)


def test_channels_and_operations_are_the_stream_and_sse() -> None:
    channels = DOC["channels"]
    assert channels["stream"]["address"] == STREAM_PATH
    assert channels["sse"]["address"] == "/api/notifications/sse"
    for channel in channels.values():
        for message in channel["messages"].values():
            assert resolve(message["$ref"])["payload"]["$ref"].startswith("#/components/schemas/")
    for name, operation in DOC["operations"].items():
        assert operation["action"] in {"send", "receive"}, name
        channel = operation["channel"]["$ref"]
        # an operation's messages must be a subset of its channel's
        assert all(m["$ref"].startswith(f"{channel}/messages/") for m in operation["messages"])
    sent = {follow(m["$ref"])["name"] for m in DOC["operations"]["sendCommand"]["messages"]}
    received = {follow(m["$ref"])["name"] for m in DOC["operations"]["receiveFrame"]["messages"]}
    over_sse = {follow(m["$ref"])["name"] for m in DOC["operations"]["receiveEvent"]["messages"]}
    assert sent == set(COMMANDS)
    assert received == set(FRAMES) == (CONTROL_FRAME_TYPES - {"hello"}) | {"notification"}
    assert over_sse == set(SSE_FRAMES)


def test_every_payload_schema_compiles() -> None:
    for key in DOC["components"]["messages"]:
        payload_validator(key)


@pytest.mark.parametrize(
    "command",
    [
        {"type": "hello", "token": "t", "since": 3},
        {"type": "ack", "seq": 1, "id": "c1"},
        {"type": "mark_read", "all": True},
        {"type": "start_task", "task_type": "backup", "params": {"a": 1}},
        {"type": "ack", "seq": "1"},
        {"type": "ping", "extra": 1},
        {"type": "approve"},
    ],
)
def test_the_document_accepts_the_commands_the_server_accepts(command: dict[str, Any]) -> None:
    model = COMMANDS[command["type"]]
    try:
        parse_command(json.dumps(command), max_bytes=10_000)
        accepted = True
    except GraceError:
        accepted = False
    assert payload_validator(model.__name__).is_valid(command) is accepted


async def test_frames_from_a_live_server_match_their_messages(server: Running) -> None:
    await server.grace.notify_user("ann", "task_completed", "Deployment finished")
    async with Client.connect(server, "ann", since=0) as ann:
        welcome, replay, synced = await ann.welcome()
        pong = await ann.command({"type": "ping"}, timeout=10)
        error = await ann.command({"type": "cancel_task", "task_id": "nope"}, timeout=10)
    frames = {"WelcomeFrame": welcome, "SyncedFrame": synced, "PongFrame": pong}
    frames |= {"ErrorFrame": error, "NotificationFrame": replay[0]}
    for key, frame in frames.items():
        errors = [e.message for e in payload_validator(key).iter_errors(frame)]
        assert not errors, f"{key}: {errors}"
    assert not payload_validator("PongFrame").is_valid(welcome)
