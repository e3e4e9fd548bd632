"""Protocol v1 as an AsyncAPI 3.0 document, generated from the same models as ``protocol_schema()``.

The document describes a client of Grace's notification stream: it *sends* commands and
*receives* frames on the WebSocket channel, and *receives* frames on the Server-Sent Events
channel (whose commands go over REST, described by the OpenAPI document at ``/openapi.json``).
Every message's payload is a schema under ``components.schemas``, generated from the pydantic
models in ``grace_chat.protocol`` (commands) and ``grace_chat.frames`` (frames), so the document
and the JSON Schema (``SCHEMA_ID``) cannot say different things.

Committed as ``docs/asyncapi.json`` and shipped in the wheel as ``grace_chat/schema/asyncapi.json``;
``tests/test_asyncapi.py`` regenerates and compares both. Print it with
``python -m grace_chat.asyncapi``.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from grace_chat.frames import FRAMES
from grace_chat.protocol import COMMANDS, PROTOCOL_VERSION, SCHEMA_ID, STREAM_PATH

ASYNCAPI_VERSION = "3.0.0"
SSE_PATH = "/api/notifications/sse"
_REF = "#/components/schemas/{model}"

#: Frames the SSE stream carries: every frame but the replies to commands (commands go over REST).
SSE_FRAMES = ("welcome", "synced", "error", "read", "preferences", "notification")


def _message(model: type[BaseModel], wire_type: str | None, summary: str) -> dict[str, Any]:
    message: dict[str, Any] = {
        "name": wire_type or "notification",
        "title": model.__name__,
        "summary": summary,
        "contentType": "application/json",
        "payload": {"$ref": _REF.format(model=model.__name__)},
    }
    doc = (model.__doc__ or "").strip()
    if doc and not doc.startswith(("Base of", "A frame that")):
        message["description"] = " ".join(doc.split())
    return message


def _schemas() -> dict[str, Any]:
    models: list[type[BaseModel]] = [*COMMANDS.values(), *FRAMES.values()]
    _, top = models_json_schema([(model, "validation") for model in models], ref_template=_REF)
    schemas: dict[str, Any] = top["$defs"]
    return dict(sorted(schemas.items()))


def asyncapi_document() -> dict[str, Any]:
    """The AsyncAPI 3.0 document of protocol v1 (a plain JSON value)."""
    messages: dict[str, Any] = {}
    command_keys: list[str] = []
    for name, command in COMMANDS.items():
        messages[command.__name__] = _message(command, name, f"The {name} command")
        command_keys.append(command.__name__)
    frame_keys: dict[str, str] = {}
    for name, frame in FRAMES.items():
        wire = None if name == "notification" else name
        summary = (
            "A notification (its type is the notification's type)"
            if wire is None
            else f"The {name} frame"
        )
        messages[frame.__name__] = _message(frame, wire, summary)
        frame_keys[name] = frame.__name__

    def refs(keys: list[str]) -> dict[str, Any]:
        return {key: {"$ref": f"#/components/messages/{key}"} for key in keys}

    def op_refs(channel: str, keys: list[str]) -> list[dict[str, str]]:
        return [{"$ref": f"#/channels/{channel}/messages/{key}"} for key in keys]

    stream_frames = list(frame_keys.values())
    sse_frames = [frame_keys[name] for name in SSE_FRAMES]
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "id": f"urn:grace-chat:protocol:v{PROTOCOL_VERSION}",
        "info": {
            "title": "Grace notification stream",
            "version": str(PROTOCOL_VERSION),
            "description": (
                f"Protocol v{PROTOCOL_VERSION}, seen from a client. Frames are JSON objects; the "
                "server may pack several into one WebSocket text message separated by a newline. "
                "Every command may carry an `id` that its reply carries back as `ref`. A frame "
                "whose type is not a control frame is a notification. JSON Schema of the same "
                f"payloads: {SCHEMA_ID}"
            ),
            "license": {"name": "Apache-2.0"},
        },
        "defaultContentType": "application/json",
        "servers": {
            "websocket": {
                "host": "localhost:8000",
                "protocol": "ws",
                "description": "A local `grace serve` (use wss behind TLS).",
            },
            "http": {
                "host": "localhost:8000",
                "protocol": "http",
                "description": "A local `grace serve` (use https behind TLS).",
            },
        },
        "channels": {
            "stream": {
                "address": STREAM_PATH,
                "title": "WebSocket notification stream",
                "description": (
                    "The first command must be `hello` with a token (and optionally `since`, the "
                    "last seq the client holds); the server answers `welcome`, replays what was "
                    "missed, then sends `synced` and live frames."
                ),
                "servers": [{"$ref": "#/servers/websocket"}],
                "messages": refs(command_keys + stream_frames),
            },
            "sse": {
                "address": SSE_PATH,
                "title": "Server-Sent Events notification stream",
                "description": (
                    "The same frames, one per event's data. Authenticate with a bearer token or "
                    "the session cookie; notifications carry `id: <seq>` so a reconnecting "
                    "EventSource resumes with Last-Event-ID. The stream ends with an `error` "
                    "frame whose `close_code` says why."
                ),
                "servers": [{"$ref": "#/servers/http"}],
                "messages": refs(sse_frames),
            },
        },
        "operations": {
            "sendCommand": {
                "action": "send",
                "title": "Send a command",
                "channel": {"$ref": "#/channels/stream"},
                "messages": op_refs("stream", command_keys),
            },
            "receiveFrame": {
                "action": "receive",
                "title": "Receive server frames",
                "channel": {"$ref": "#/channels/stream"},
                "messages": op_refs("stream", stream_frames),
            },
            "receiveEvent": {
                "action": "receive",
                "title": "Receive server frames over SSE",
                "channel": {"$ref": "#/channels/sse"},
                "messages": op_refs("sse", sse_frames),
            },
        },
        "components": {"messages": messages, "schemas": _schemas()},
    }


def main() -> None:
    """Print the document as committed: ``python -m grace_chat.asyncapi``."""
    print(json.dumps(asyncapi_document(), indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
