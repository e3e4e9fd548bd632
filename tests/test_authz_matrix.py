"""The authorization matrix: every door, every resource, every identity, one expected answer
per cell, checked against a real server.

Doors: the WebSocket (protocol commands and the stream), chat sentences (``/api/unified/chat``),
REST, SSE. Resources: notifications, tasks, approvals, missions, chat history, learning (jobs
and everyone's gate), knowledge documents. Identities: the owner of the resources (``ann``),
another user (``bob``), an admin (``root``), and five bad credentials: none, a bad signature, an
expired token, a token signed with another secret, and ``alg: none``.

Each row is one operation a door offers on a resource (``ROWS``); its cells say what each
identity gets:

* ``ok`` — the answer, and it contains the owner's resource;
* ``hidden`` — an answer scoped to the caller, without the owner's resource in it;
* ``forbidden``, ``not_found``, ``conflict`` — refused with that code (the resource is addressed
  by id; ``conflict`` when the caller may act but the resource's state forbids the change);
* ``none`` — the door has no way to reach that resource, for anyone: the answer never has it;
* ``unauthenticated`` — 401 with the error envelope; ``4401`` — the socket answers
  ``unauthenticated`` and closes with 4401.

``test_every_route_and_command_is_in_the_matrix`` keeps the table complete: a new REST route or
protocol command fails it until it has a row or a stated reason to be outside the matrix.
docs/security.md shows the same table (``test_the_documented_matrix_is_this_one``).
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from websockets.exceptions import ConnectionClosed

from grace_chat.app import Grace
from grace_chat.auth import Identity, TokenAuthority
from grace_chat.config import Settings
from grace_chat.learning.model import Scope
from grace_chat.protocol import COMMANDS
from tests.support import Client, Frame, Running, serve
from tests.support.sse import PATH as SSE_PATH
from tests.support.sse import SSEStream

DOORS = ("ws", "chat", "rest", "sse")
RESOURCES = (
    "notifications",
    "tasks",
    "approvals",
    "missions",
    "chat history",
    "learning",
    "knowledge",
)
GOOD = ("owner", "other", "admin")
BAD = ("no token", "bad signature", "expired", "other secret", "alg none")
IDENTITIES = GOOD + BAD
#: What every bad credential gets, per door.
REFUSED = {"ws": "4401", "chat": "unauthenticated", "rest": "unauthenticated",
           "sse": "unauthenticated"}  # fmt: skip

OWNER, OTHER, ADMIN = "ann", "bob", "root"
SECRET = "zq7f3a"  # in every marker, so a leak of any of them is easy to spot
NOTE = f"ann-note-{SECRET}"
TASK_ID = f"task_ann_{SECRET}"
MISSION_ID = f"mission_ann_{SECRET}"
SAID = f"ann-said-{SECRET} hello"
DOCUMENT_WORD = f"quokka{SECRET}"
FILE = {"tasks": {"echo": {"command": "echo step done"}}}


# -- the world: one server, the owner's resources, the identities ----------------------------


@dataclass
class World:
    srv: Running
    tokens: dict[str, str | None]
    approval_id: str = ""
    note_id: str = ""
    job_id: str = ""
    document_id: str = ""
    replays: dict[tuple[str, str], list[Frame]] = field(default_factory=dict)

    @property
    def grace(self) -> Grace:
        return self.srv.grace

    def headers(self, who: str) -> dict[str, str]:
        token = self.tokens[who]
        return {} if token is None else {"Authorization": f"Bearer {token}"}

    def marker(self, resource: str) -> str:
        return {
            "notifications": NOTE,
            "tasks": TASK_ID,
            "approvals": self.approval_id,
            "missions": MISSION_ID,
            "chat history": SAID,
            "learning": self.job_id,
            "knowledge": self.document_id,
        }[resource]


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def identities(grace: Grace) -> dict[str, str | None]:
    owner = grace.tokens.issue(OWNER)
    head, body, signature = owner.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    now = int(time.time())
    claims = {"sub": OWNER, "iss": "grace", "iat": now, "exp": now + 3600, "adm": True}
    return {
        "owner": owner,
        "other": grace.tokens.issue(OTHER),
        "admin": grace.tokens.issue(ADMIN, admin=True),
        "no token": None,
        "bad signature": f"{head}.{body}.{flipped}",
        "expired": grace.tokens.issue(OWNER, ttl=-120),
        "other secret": TokenAuthority("x" * 48, 3600).issue(OWNER, admin=True),
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.",
    }


async def _poll(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    data: Path = tmp_path_factory.mktemp("authz") / "data"
    settings = Settings(data_dir=data, sqlite_synchronous="NORMAL", file=FILE)
    grace = Grace(settings, systems={"learning", "missions", "chat"})
    async with serve(settings, grace) as srv:
        w = World(srv, identities(grace))
        owner = Identity(OWNER)
        w.note_id = (await grace.notify_user(OWNER, "test", NOTE)).id

        async def work(ctx: Any) -> dict[str, str]:
            ctx.log(f"ann-log-{SECRET}")
            return {"ok": "yes"}

        await grace.start_background_task("build", OWNER, work, TASK_ID)
        requested = await grace.action_gateway.request_action(
            "modify_file", "ops", {"file_path": "x.yaml"}, user_id=OWNER
        )
        w.approval_id = requested["approval_id"]
        async with srv.http() as http:
            started = await http.post(
                "/api/missions",
                json={"name": "echo", "steps": [{"task_type": "echo"}], "mission_id": MISSION_ID},
                headers=w.headers("owner"),
            )
            assert started.status_code == 201, started.text
            said = await http.post(
                "/api/unified/chat", json={"text": SAID}, headers=w.headers("owner")
            )
            assert said.status_code == 200, said.text
        assert grace.learning is not None and grace.missions is not None
        document = f"# Quokka\n\nThe {DOCUMENT_WORD} memo.".encode()
        job = await grace.learning.submit(("quokka.md", document), OWNER)
        w.job_id = job.task_id
        missions = grace.missions

        async def settled() -> bool:
            task = await grace.tasks.get(TASK_ID, owner)
            learned = await grace.tasks.get(w.job_id, owner)
            mission = await missions.get(MISSION_ID, owner)
            return not task.state.active and not learned.state.active and not mission.state.active

        await _poll(settled, "the owner's task, learning job and mission to finish")
        learned = await grace.tasks.get(w.job_id, owner)
        assert learned.state.value == "succeeded", learned.error
        w.document_id = learned.result["document_id"]
        yield w


# -- how each door is asked, and how its answer is read --------------------------------------


def read_http(response: httpx.Response, marker: str | None, *, path: bool = True) -> str:
    """The outcome of a REST answer; with ``marker``, whether the owner's resource is in it."""
    status = response.status_code
    if status >= 400:
        code = response.json()["error"]["code"]
        expected = {401: "unauthenticated", 403: "forbidden", 404: "not_found", 409: "conflict"}
        return code if expected.get(status) == code else f"http {status} {code}"
    if marker is None:
        return "ok"
    found = marker in response.text
    return ("ok" if found else "hidden") if path else ("leak" if found else "none")


async def rest(w: World, who: str, method: str, url: str, marker: str | None, **kwargs: Any) -> str:
    async with w.srv.http() as http:
        response = await http.request(method, url, headers=w.headers(who), **kwargs)
    return read_http(response, marker)


@asynccontextmanager
async def socket(w: World, who: str, since: int | None = None) -> AsyncIterator[Client | str]:
    """A WebSocket signed in as ``who`` (after its replay), or the outcome when it is refused."""
    async with Client.connect(w.srv, hello=False) as client:
        token = w.tokens[who]
        hello: Frame = {"type": "hello", "since": since}
        if token is not None:
            hello["token"] = token
        await client.send(hello)
        first = await client.recv()
        if first["type"] == "error":
            try:
                while True:
                    await client.recv()
            except ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd else None
            yield "4401" if first["code"] == "unauthenticated" and code == 4401 else str(first)
            return
        assert first["type"] == "welcome", first
        replay: list[Frame] = []
        while (frame := await client.recv())["type"] != "synced":
            replay.append(frame)
        w.replays[("ws", who)] = replay
        yield client


async def ws_command(w: World, who: str, frame: Frame, marker: str | None) -> str:
    async with socket(w, who) as client:
        if isinstance(client, str):
            return client
        reply = await client.command(frame)
    if reply["type"] == "error":
        return str(reply["code"])
    if marker is None:
        return "ok"
    return "ok" if marker in json.dumps(reply) else "hidden"


async def ws_stream(w: World, who: str, marker: str) -> str:
    """Whether the owner's resource reaches ``who``'s stream (replayed from the start)."""
    async with socket(w, who, since=0) as client:
        if isinstance(client, str):
            return client
    return "ok" if marker in json.dumps(w.replays[("ws", who)]) else "hidden"


async def chat(w: World, who: str, text: str, marker: str, *, path: bool = True) -> str:
    async with w.srv.http() as http:
        response = await http.post("/api/unified/chat", json={"text": text}, headers=w.headers(who))
    if response.status_code != 200:
        return read_http(response, marker)
    reply = response.json()
    if reply["data"].get("error"):
        return str(reply["data"]["error"])
    found = marker in json.dumps(reply)
    if not path:
        return "leak" if found else "none"
    return "ok" if found else "hidden"


async def sse_stream(w: World, who: str, marker: str, *, path: bool = True) -> str:
    key = ("sse", who)
    if key not in w.replays:
        async with (
            w.srv.http() as http,
            http.stream("GET", SSE_PATH, params={"since": 0}, headers=w.headers(who)) as response,
        ):
            if response.status_code != 200:
                await response.aread()
                return read_http(response, marker)
            _, replay, _ = await SSEStream(response).until_synced()
        w.replays[key] = [event.data for event in replay]
    found = marker in json.dumps(w.replays[key])
    if not path:
        return "leak" if found else "none"
    return "ok" if found else "hidden"


# -- probes that need a fresh resource or put things back ------------------------------------


async def mark_read(w: World, who: str, door: str) -> str:
    """Mark a fresh notification of the owner read, by its id; ``hidden``: the caller's answer
    marked nothing and the owner's copy is still unread."""
    note = await w.grace.notify_user(OWNER, "test", f"{NOTE} to mark")
    if door == "ws":
        async with socket(w, who) as client:
            if isinstance(client, str):
                return client
            reply = await client.command({"type": "mark_read", "ids": [note.id]})
        if reply["type"] == "error":
            return str(reply["code"])
        marked = reply["marked"]
    else:
        async with w.srv.http() as http:
            response = await http.post(
                "/api/notifications/read", json={"ids": [note.id]}, headers=w.headers(who)
            )
        if response.status_code != 200:
            return read_http(response, None)
        marked = response.json()["marked"]
    (stored,) = await w.grace.store.read_since(OWNER, note.seq - 1, 1)
    if marked == 1 and stored.read:
        return "ok"
    return "hidden" if marked == 0 and not stored.read else f"marked {marked}, read {stored.read}"


async def everyones_gate(w: World, who: str, door: str) -> str:
    """Pause everyone's learning; an admin's pause is undone at once."""
    if door == "rest":
        outcome = await rest(w, who, "POST", "/api/learning/pause", None, params={"scope": "all"})
    elif door == "ws":
        outcome = await ws_command(w, who, {"type": "pause_learning", "scope": "all"}, None)
    else:
        outcome = await chat(w, who, "pause learning for everyone", "paused")
    supervisor = w.grace.learning
    assert supervisor is not None
    if supervisor.gate(None).paused:
        await supervisor.resume(Identity(ADMIN, admin=True), Scope.ALL)
        if outcome != "ok":
            return f"{outcome}, yet everyone's learning was paused"
    return outcome


# -- the table -------------------------------------------------------------------------------

Probe = Callable[[World, str], Awaitable[str]]


@dataclass(frozen=True)
class Row:
    door: str
    resource: str
    operation: str  # "GET /api/tasks/{task_id}", "task_logs", "stream", a sentence
    owner: str
    other: str
    admin: str
    probe: Probe

    @property
    def expected(self) -> dict[str, str]:
        cells = {"owner": self.owner, "other": self.other, "admin": self.admin}
        return {**cells, **dict.fromkeys(BAD, REFUSED[self.door])}

    @property
    def name(self) -> str:
        return f"{self.door}: {self.resource}: {self.operation}"


def _rest(resource: str, method: str, url: Callable[[World], str], **kw: Any) -> Probe:
    async def probe(w: World, who: str) -> str:
        return await rest(w, who, method, url(w), w.marker(resource), **kw)

    return probe


def _rest_plain(method: str, url: Callable[[World], str], **kw: Any) -> Probe:
    async def probe(w: World, who: str) -> str:
        return await rest(w, who, method, url(w), None, **kw)

    return probe


def _archive(path: str) -> Probe:
    """Archiving the owner's notification by its id: a person archives only their own."""

    async def probe(w: World, who: str) -> str:
        return await rest(w, who, "POST", path, None, json={"ids": [w.note_id]})

    return probe


def _ws(resource: str, frame: Callable[[World], Frame], *, marked: bool = True) -> Probe:
    async def probe(w: World, who: str) -> str:
        return await ws_command(w, who, frame(w), w.marker(resource) if marked else None)

    return probe


def _stream(door: str, resource: str, *, path: bool = True) -> Probe:
    async def probe(w: World, who: str) -> str:
        if door == "ws":
            return await ws_stream(w, who, w.marker(resource))
        return await sse_stream(w, who, w.marker(resource), path=path)

    return probe


def _say(resource: str, text: Callable[[World], str], *, path: bool = True) -> Probe:
    async def probe(w: World, who: str) -> str:
        return await chat(w, who, text(w), w.marker(resource), path=path)

    return probe


def _ws_said(resource: str, text: str) -> Probe:
    """The socket's ``chat`` command: the sentence's answer must not carry the resource."""

    async def probe(w: World, who: str) -> str:
        outcome = await ws_command(w, who, {"type": "chat", "text": text}, w.marker(resource))
        return {"hidden": "none", "ok": "leak"}.get(outcome, outcome)

    return probe


def _mark(door: str) -> Probe:
    async def probe(w: World, who: str) -> str:
        return await mark_read(w, who, door)

    return probe


def _gate(door: str) -> Probe:
    async def probe(w: World, who: str) -> str:
        return await everyones_gate(w, who, door)

    return probe


def _r(door: str, resource: str, operation: str, cells: tuple[str, str, str], probe: Probe) -> Row:
    return Row(door, resource, operation, *cells, probe)


ROWS: list[Row] = [
    # -- WebSocket: protocol commands, and the stream ----------------------------------------
    _r("ws", "notifications", "stream", ("ok", "hidden", "hidden"),
       _stream("ws", "notifications")),
    _r("ws", "notifications", "mark_read", ("ok", "hidden", "hidden"), _mark("ws")),
    _r("ws", "tasks", "stream", ("ok", "hidden", "hidden"), _stream("ws", "tasks")),
    _r("ws", "tasks", "list_tasks", ("ok", "hidden", "ok"),
       _ws("tasks", lambda w: {"type": "list_tasks"})),
    _r("ws", "tasks", "task_logs", ("ok", "forbidden", "ok"),
       _ws("tasks", lambda w: {"type": "task_logs", "task_id": TASK_ID})),
    _r("ws", "tasks", "cancel_task", ("conflict", "forbidden", "conflict"),
       _ws("tasks", lambda w: {"type": "cancel_task", "task_id": TASK_ID})),
    _r("ws", "tasks", "pause_task", ("conflict", "forbidden", "conflict"),
       _ws("tasks", lambda w: {"type": "pause_task", "task_id": TASK_ID})),
    _r("ws", "tasks", "resume_task", ("conflict", "forbidden", "conflict"),
       _ws("tasks", lambda w: {"type": "resume_task", "task_id": TASK_ID})),
    _r("ws", "approvals", "stream", ("ok", "hidden", "hidden"), _stream("ws", "approvals")),
    _r("ws", "approvals", "approve", ("ok", "forbidden", "ok"),
       _ws("approvals", lambda w: {"type": "approve", "approval_id": w.approval_id})),
    _r("ws", "approvals", "reject", ("ok", "forbidden", "ok"),
       _ws("approvals", lambda w: {"type": "reject", "approval_id": w.approval_id})),
    _r("ws", "missions", "stream", ("ok", "hidden", "hidden"), _stream("ws", "missions")),
    _r("ws", "chat history", "chat 'show my chat history'", ("none", "none", "none"),
       _ws_said("chat history", "show my chat history")),
    _r("ws", "learning", "stream", ("ok", "hidden", "hidden"), _stream("ws", "learning")),
    _r("ws", "learning", "pause_learning scope all", ("forbidden", "forbidden", "ok"),
       _gate("ws")),
    _r("ws", "knowledge", "stream", ("ok", "hidden", "hidden"), _stream("ws", "knowledge")),
    # -- chat sentences ----------------------------------------------------------------------
    _r("chat", "notifications", "'show my notifications'", ("none", "none", "none"),
       _say("notifications", lambda w: "show my notifications", path=False)),
    _r("chat", "tasks", "'show logs of task <id>'", ("ok", "forbidden", "ok"),
       _say("tasks", lambda w: f"show logs of task {TASK_ID}")),
    _r("chat", "approvals", "'approve <id>'", ("ok", "forbidden", "ok"),
       _say("approvals", lambda w: f"approve {w.approval_id}")),
    _r("chat", "missions", "'list missions'", ("ok", "hidden", "ok"),
       _say("missions", lambda w: "list missions")),
    _r("chat", "chat history", "'show my chat history'", ("none", "none", "none"),
       _say("chat history", lambda w: "show my chat history", path=False)),
    _r("chat", "learning", "'pause learning for everyone'", ("forbidden", "forbidden", "ok"),
       _gate("chat")),
    _r("chat", "knowledge", "'search knowledge for <word>'", ("none", "none", "none"),
       _say("knowledge", lambda w: f"search knowledge for {DOCUMENT_WORD}", path=False)),
    # -- REST --------------------------------------------------------------------------------
    _r("rest", "notifications", "GET /api/notifications", ("ok", "hidden", "hidden"),
       _rest("notifications", "GET", lambda w: "/api/notifications?since=0&limit=1000")),
    _r("rest", "notifications", "POST /api/notifications/read", ("ok", "hidden", "hidden"),
       _mark("rest")),
    _r("rest", "notifications", "POST /api/notifications/publish",
       ("forbidden", "forbidden", "ok"),
       _rest_plain("POST", lambda w: "/api/notifications/publish",
                   json={"user_id": OWNER, "type": "test", "message": "from a backend"})),
    _r("rest", "notifications", "POST /api/preferences/archive",
       ("ok", "not_found", "not_found"), _archive("/api/preferences/archive")),
    _r("rest", "notifications", "POST /api/preferences/unarchive",
       ("ok", "not_found", "not_found"), _archive("/api/preferences/unarchive")),
    _r("rest", "tasks", "GET /api/tasks", ("ok", "hidden", "ok"),
       _rest("tasks", "GET", lambda w: "/api/tasks")),
    _r("rest", "tasks", "GET /api/tasks/{task_id}", ("ok", "forbidden", "ok"),
       _rest("tasks", "GET", lambda w: f"/api/tasks/{TASK_ID}")),
    _r("rest", "tasks", "GET /api/tasks/{task_id}/logs", ("ok", "forbidden", "ok"),
       _rest("tasks", "GET", lambda w: f"/api/tasks/{TASK_ID}/logs")),
    _r("rest", "tasks", "POST /api/tasks/{task_id}/cancel", ("conflict", "forbidden", "conflict"),
       _rest_plain("POST", lambda w: f"/api/tasks/{TASK_ID}/cancel")),
    _r("rest", "tasks", "POST /api/tasks/{task_id}/pause", ("conflict", "forbidden", "conflict"),
       _rest_plain("POST", lambda w: f"/api/tasks/{TASK_ID}/pause")),
    _r("rest", "tasks", "POST /api/tasks/{task_id}/resume", ("conflict", "forbidden", "conflict"),
       _rest_plain("POST", lambda w: f"/api/tasks/{TASK_ID}/resume")),
    _r("rest", "approvals", "GET /api/approvals", ("ok", "hidden", "ok"),
       _rest("approvals", "GET", lambda w: "/api/approvals")),
    _r("rest", "approvals", "POST /api/approvals", ("forbidden", "forbidden", "ok"),
       _rest_plain("POST", lambda w: "/api/approvals",
                   json={"action_type": "modify_file", "agent": "ops", "user_id": OTHER})),
    _r("rest", "approvals", "GET /api/approvals/{approval_id}", ("ok", "forbidden", "ok"),
       _rest("approvals", "GET", lambda w: f"/api/approvals/{w.approval_id}")),
    _r("rest", "approvals", "POST /api/approvals/{approval_id}/{decision}",
       ("ok", "forbidden", "ok"),
       _rest("approvals", "POST", lambda w: f"/api/approvals/{w.approval_id}/reject")),
    _r("rest", "approvals", "GET /api/audit", ("ok", "forbidden", "ok"),
       _rest("approvals", "GET", lambda w: f"/api/audit?approval_id={w.approval_id}")),
    _r("rest", "approvals", "GET /api/admin/overview", ("forbidden", "forbidden", "ok"),
       _rest_plain("GET", lambda w: "/api/admin/overview")),
    _r("rest", "missions", "GET /api/missions", ("ok", "hidden", "ok"),
       _rest("missions", "GET", lambda w: "/api/missions")),
    _r("rest", "missions", "GET /api/missions/{mission_id}", ("ok", "forbidden", "ok"),
       _rest("missions", "GET", lambda w: f"/api/missions/{MISSION_ID}")),
    _r("rest", "missions", "POST /api/missions/{mission_id}/{action}",
       ("conflict", "forbidden", "conflict"),
       _rest_plain("POST", lambda w: f"/api/missions/{MISSION_ID}/cancel")),
    _r("rest", "chat history", "GET /api/unified/chat/history", ("ok", "hidden", "hidden"),
       _rest("chat history", "GET", lambda w: "/api/unified/chat/history")),
    _r("rest", "learning", "GET /api/learning", ("ok", "hidden", "ok"),
       _rest("learning", "GET", lambda w: "/api/learning")),
    _r("rest", "learning", "GET /api/learning/jobs/{task_id}", ("ok", "forbidden", "ok"),
       _rest("learning", "GET", lambda w: f"/api/learning/jobs/{w.job_id}")),
    _r("rest", "learning", "POST /api/learning/pause", ("forbidden", "forbidden", "ok"),
       _gate("rest")),
    _r("rest", "learning", "POST /api/learning/resume", ("forbidden", "forbidden", "ok"),
       _rest_plain("POST", lambda w: "/api/learning/resume?scope=all")),
    _r("rest", "knowledge", "GET /api/knowledge/search", ("ok", "hidden", "ok"),
       _rest("knowledge", "GET", lambda w: f"/api/knowledge/search?q={DOCUMENT_WORD}")),
    _r("rest", "knowledge", "GET /api/knowledge/documents", ("ok", "hidden", "ok"),
       _rest("knowledge", "GET", lambda w: "/api/knowledge/documents")),
    _r("rest", "knowledge", "GET /api/knowledge/documents/{document_id}",
       ("ok", "forbidden", "ok"),
       _rest("knowledge", "GET", lambda w: f"/api/knowledge/documents/{w.document_id}")),
    # -- SSE: the notification stream --------------------------------------------------------
    _r("sse", "notifications", "stream", ("ok", "hidden", "hidden"),
       _stream("sse", "notifications")),
    _r("sse", "tasks", "stream", ("ok", "hidden", "hidden"), _stream("sse", "tasks")),
    _r("sse", "approvals", "stream", ("ok", "hidden", "hidden"), _stream("sse", "approvals")),
    _r("sse", "missions", "stream", ("ok", "hidden", "hidden"), _stream("sse", "missions")),
    _r("sse", "chat history", "stream", ("none", "none", "none"),
       _stream("sse", "chat history", path=False)),
    _r("sse", "learning", "stream", ("ok", "hidden", "hidden"), _stream("sse", "learning")),
    _r("sse", "knowledge", "stream", ("ok", "hidden", "hidden"), _stream("sse", "knowledge")),
]  # fmt: skip

#: REST operations that are not an access path to another person's resource, and why.
OUTSIDE_ROUTES = {
    "GET /api/notifications/unread": "counts the caller's own log; nothing names another user",
    "GET /api/notifications/summary": "sums up the caller's own log; nothing names another user",
    "GET /api/preferences": "the caller's own preferences",
    "PUT /api/preferences/types/{notification_type}": "sets the caller's own preference",
    "POST /api/tasks": "starts a task owned by the caller",
    "POST /api/missions": "starts a mission owned by the caller",
    "POST /api/learning/documents": "makes learning jobs owned by the caller",
    "POST /api/unified/chat": "the chat door itself (its rows are the sentences)",
    "GET /api/notifications/sse": "the SSE door itself (its rows are the stream)",
    "GET /api/status": "the caller's own summary (an admin's: everyone's tasks); no id given",
    "GET /api/session": "who the caller is",
    "POST /api/session": "exchanges the caller's token for a cookie",
    "DELETE /api/session": "drops the caller's cookie",
    "GET /api/protocol": "public: the protocol's schema",
    "GET /api/health": "public: liveness",
    "GET /api/ready": "public: readiness",
    "GET /metrics": "operations: process-wide figures, no person's resource (admin or allow-list)",
    "GET /api/guardian": "host health: not a person's resource",
    "GET /api/healing": "self-heal attempts: not among the matrix's resources",
}
#: Protocol commands that are not an access path to another person's resource, and why.
OUTSIDE_COMMANDS = {
    "hello": "signs the socket in: every ws cell starts with it",
    "ping": "no resource",
    "ack": "the connection's own delivery position",
    "status": "the caller's own summary",
    "start_task": "starts a task owned by the caller",
    "chat": "the chat door over the socket (its rows are the sentences)",
    "resume_learning": "the same gate and check as pause_learning (the REST row resumes it)",
}


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
async def test_cell(world: World, row: Row) -> None:
    """One row of the matrix: every identity's answer is the one the table states."""
    got = {who: await row.probe(world, who) for who in IDENTITIES}
    wrong = {who: f"expected {row.expected[who]}, got {got[who]}"
             for who in IDENTITIES if got[who] != row.expected[who]}  # fmt: skip
    assert not wrong, f"{row.name}: {wrong}"


def test_the_matrix_covers_every_door_resource_and_identity() -> None:
    pairs = {(r.door, r.resource) for r in ROWS}
    missing = {(d, r) for d in DOORS for r in RESOURCES} - pairs
    assert not missing, f"no row for {sorted(missing)}"
    assert len(IDENTITIES) == 8 and all(len(r.expected) == 8 for r in ROWS)
    allowed = {"ok", "hidden", "forbidden", "not_found", "conflict", "none"}
    assert all({r.owner, r.other, r.admin} <= allowed for r in ROWS)


def test_every_route_and_command_is_in_the_matrix(tmp_path: Path) -> None:
    """A new REST route or protocol command needs a row (or a reason to be outside)."""
    from grace_chat.api.app import create_app

    grace = Grace(Settings(data_dir=tmp_path / "data", file=FILE))
    paths = create_app(grace).openapi()["paths"]
    routes = {f"{method.upper()} {path}" for path, ops in paths.items() for method in ops}
    rows = {r.operation for r in ROWS if r.door == "rest"}
    uncovered = routes - rows - set(OUTSIDE_ROUTES)
    assert not uncovered, f"REST operations without a matrix row: {sorted(uncovered)}"
    assert not (rows | set(OUTSIDE_ROUTES)) - routes, "rows for routes that do not exist"
    commands = {r.operation.split()[0] for r in ROWS if r.door == "ws"} - {"stream", "chat"}
    missing = set(COMMANDS) - commands - set(OUTSIDE_COMMANDS)
    assert not missing, f"protocol commands without a matrix row: {sorted(missing)}"


def markdown() -> str:
    """The matrix as docs/security.md shows it."""
    head = "| door | resource | operation | " + " | ".join(IDENTITIES) + " |"
    lines = [head, "|" + "---|" * (3 + len(IDENTITIES))]
    for r in ROWS:
        cells = " | ".join(r.expected[who] for who in IDENTITIES)
        lines.append(f"| {r.door} | {r.resource} | {r.operation} | {cells} |")
    return "\n".join(lines)


def test_the_documented_matrix_is_this_one() -> None:
    """docs/security.md carries this table; print ``markdown()`` to regenerate it."""
    doc = (Path(__file__).resolve().parent.parent / "docs" / "security.md").read_text()
    assert markdown() in doc, "docs/security.md's matrix differs from tests/test_authz_matrix.py"
