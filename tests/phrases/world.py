"""Run the phrase tables against a real server: a fresh world of live tasks, missions, healing
attempts and approvals behind every row (README.md describes them), one HTTP server for the run.

Each row is said with ``POST /api/unified/chat`` as ``user``. What the row did is measured twice:
every command the chat got through the ``CommandRouter`` that changes something, and a snapshot of
the world (tasks, approvals, learning) before and after the row's sentence.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from grace_chat.api.app import install_error_handlers
from grace_chat.api.chat import build_chat_router
from grace_chat.api.deps import caller_dependency
from grace_chat.api.server import base_url, listen
from grace_chat.app import Grace
from grace_chat.approvals.gateway import describe
from grace_chat.approvals.model import Approval
from grace_chat.auth import Identity
from grace_chat.commands import CommandContext
from grace_chat.config import Settings
from grace_chat.missions.model import Mission, MissionState, Step
from grace_chat.protocol import Command
from grace_chat.selfheal.model import Attempt, Outcome, Strategy
from grace_chat.tasks.context import TaskContext, TaskFailed
from grace_chat.tasks.model import TaskState

HERE = Path(__file__).resolve().parent
USER = "user"
ACTING = frozenset(
    {"cancel_task", "pause_task", "resume_task", "start_task", "approve", "reject",
     "pause_learning", "resume_learning"}
)  # fmt: skip
WORLDS = ("default", "quiet", "two_approvals")


@dataclass(frozen=True, slots=True)
class Row:
    table: str
    line: int
    sentence: str
    intent: str | None
    slots: dict[str, str]
    must_not_act: bool
    before: tuple[str, ...]
    world: str

    @property
    def where(self) -> str:
        return f"{self.table}:{self.line}"


@dataclass(slots=True)
class RowResult:
    row: Row
    reply: dict[str, Any]
    actions: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def right(self) -> bool:
        return not self.problems


def load(name: str) -> list[Row]:
    rows: list[Row] = []
    path = HERE / name
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not raw.strip() or raw.startswith("#"):
            continue
        cells = raw.split("\t")
        if not 4 <= len(cells) <= 6:
            raise ValueError(f"{name}:{number}: expected 4 to 6 tab-separated cells: {raw!r}")
        cells += ["-"] * (6 - len(cells))
        sentence, intent, slots, flag, before, world = (c.strip() for c in cells)
        if world in ("", "-"):
            world = "default"
        if world not in WORLDS or flag not in ("0", "1"):
            raise ValueError(f"{name}:{number}: bad world or must_not_act flag: {raw!r}")
        rows.append(
            Row(
                table=name,
                line=number,
                sentence=sentence,
                intent=None if intent == "none" else intent,
                slots=dict(p.split("=", 1) for p in slots.split()) if slots != "-" else {},
                must_not_act=flag == "1",
                before=tuple(s.strip() for s in before.split("||")) if before != "-" else (),
                world=world,
            )
        )
    return rows


# -- the world -------------------------------------------------------------------------------


async def _work(ctx: TaskContext) -> dict[str, Any]:
    """A task type's body: finishes at once when asked to (``done``, ``fail``), else works until
    cancelled, honouring pause and cancel at every checkpoint."""
    params = ctx.params
    if params.get("lines"):
        for line in params["lines"]:
            ctx.log(line)
    if params.get("fail"):
        raise TaskFailed(str(params["fail"]))
    if params.get("done"):
        return {"status": "success"}
    if params.get("progress"):
        ctx.progress(float(params["progress"]), "working")
    while True:
        await ctx.checkpoint()
        await asyncio.sleep(0.005)


TYPES = ("deployment", "backup", "build", "sync", "report")
#: (task id, type, params, state it must reach)
TASKS: tuple[tuple[str, str, dict[str, Any], TaskState], ...] = (
    ("deploy_455", "deployment", {"fail": "Connection timeout", "lines": ["pushing image"]},
     TaskState.FAILED),
    ("backup_122", "backup", {"done": True, "lines": ["backed up 120 files"]}, TaskState.SUCCEEDED),
    ("build_788", "build", {"done": True, "lines": ["compiled"]}, TaskState.SUCCEEDED),
    ("deploy_456", "deployment",
     {"lines": ["pushing image", "waiting for health check"], "progress": 0.4},
     TaskState.RUNNING),
    ("backup_123", "backup", {"lines": ["copying files"]}, TaskState.RUNNING),
    ("build_789", "build", {"lines": ["compiling"]}, TaskState.PAUSED),
    ("sync_301", "sync", {"lines": ["syncing"]}, TaskState.RUNNING),
)  # fmt: skip


async def _until(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"world: timed out waiting for {what}")
        await asyncio.sleep(0.002)


async def _task_in(grace: Grace, task_id: str, state: TaskState) -> None:
    who = Identity(USER) if not task_id.startswith("deploy_9") else Identity("bob")

    async def reached() -> bool:
        return (await grace.tasks.get(task_id, who)).state is state

    await _until(reached, f"{task_id} {state.value}")


async def populate(grace: Grace, world: str) -> None:
    if world == "quiet":
        return
    runner = grace.tasks
    for task_id, task_type, params, _ in TASKS:
        await runner.start_task(user_id=USER, task_type=task_type, params=params, task_id=task_id)
    await runner.start_task(user_id="bob", task_type="deployment", params={}, task_id="deploy_900")
    for task_id, _, _, state in TASKS:
        await _task_in(grace, task_id, TaskState.RUNNING if state is TaskState.PAUSED else state)
    await _task_in(grace, "deploy_900", TaskState.RUNNING)
    await runner.pause("build_789", Identity(USER))
    await _task_in(grace, "build_789", TaskState.PAUSED)
    now = time.time()
    assert grace.missions is not None and grace.healer is not None
    await grace.missions.store.save(
        Mission("mission_release", "release", USER, (Step("build"), Step("deployment")),
                MissionState.RUNNING, current=1, task_ids=("build_788", "deploy_456"),
                created_at=now - 120)
    )  # fmt: skip
    await grace.missions.store.save(
        Mission("mission_nightly", "nightly", USER, (Step("backup"), Step("report")),
                MissionState.COMPLETED, current=1, task_ids=("backup_122", "report_7"),
                created_at=now - 7200, finished_at=now - 7000)
    )  # fmt: skip
    await grace.healer.store.save(
        Attempt("heal_1", "deployment_rollback", Strategy.ROLLBACK, "deploy_455", "deploy_455",
                USER, started_at=now - 60, finished_at=now - 50, outcome=Outcome.SUCCEEDED,
                detail="Rolled back to version v2.0.5")
    )  # fmt: skip
    await grace.healer.store.save(
        Attempt("heal_2", "restart_api", Strategy.RESTART_SERVICE, "api_health", "api_health",
                USER, started_at=now - 30, finished_at=now - 25, outcome=Outcome.FAILED,
                detail="service did not come back")
    )  # fmt: skip
    config = {"file_path": "config.yaml"}
    approvals = [("appr_7f3a9c", "modify_file", "learning_supervisor", config)]
    if world == "two_approvals":
        approvals.append(("appr_2b8e41", "restart_service", "guardian", {"service": "api"}))
    for approval_id, action, agent, params in approvals:
        await grace.action_gateway.store.create(
            Approval(approval_id, USER, action, agent, params, message=describe(agent, action,
                     params), expires_at=now + 3600, created_at=time.time())
        )  # fmt: skip
        await asyncio.sleep(0.002)


async def snapshot(grace: Grace) -> dict[str, Any]:
    tasks = await grace.tasks.list_tasks(Identity(USER))
    approvals = await grace.action_gateway.list_approvals(Identity(USER))
    return {
        "tasks": sorted((t.task_id, t.state.value, t.pause_requested) for t in tasks),
        "approvals": sorted((a.approval_id, a.state.value) for a in approvals),
        "learning": grace.learning.state(USER).value if grace.learning is not None else None,
    }


async def settled(grace: Grace) -> dict[str, Any]:
    """The world's snapshot once nothing in it is still moving: no task between states (queued,
    a cancel or a pause asked for and not yet done; the world's tasks reach a checkpoint every few
    milliseconds) and two snapshots in a row the same."""
    last: dict[str, Any] = {}
    between = {TaskState.CANCELLING.value, TaskState.QUEUED.value}

    async def still() -> bool:
        nonlocal last
        now = await snapshot(grace)
        moving = any(state in between or asked for _, state, asked in now["tasks"])
        same, last = now == last, now
        return same and not moving

    await _until(still, "the world to settle")
    return last


def chat_app(grace: Grace) -> FastAPI:
    """The unified chat's routes as ``grace serve`` mounts them (the rest of the API is not
    needed here, and building it for every row would be most of the run's time)."""
    assert grace.chat is not None
    app = FastAPI()
    app.include_router(build_chat_router(grace.chat, caller_dependency(grace.auth)))
    install_error_handlers(app)
    return app


class _Switch:
    """The one server's ASGI app: hands each request to the app of the world it names (header
    ``x-world``), so several rows can run at once, each with its own world."""

    def __init__(self) -> None:
        self.apps: dict[bytes, Any] = {}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        world = dict(scope["headers"]).get(b"x-world", b"")
        await self.apps[world](scope, receive, send)


class Bench:
    """One loopback server; a fresh Grace behind it for every row."""

    def __init__(self, url: str, switch: _Switch, root: Path) -> None:
        self.url = url
        self.switch = switch
        self.root = root
        self.count = 0

    @contextlib.asynccontextmanager
    async def world(self, name: str) -> AsyncIterator[tuple[Grace, list[str], str]]:
        self.count += 1
        key = f"w{self.count}"
        settings = Settings(
            data_dir=self.root / key,
            sqlite_synchronous="OFF",
            log_level="warning",
            task_concurrency=16,
        )
        grace = Grace(settings, systems=("healing", "learning", "missions", "chat"))
        for task_type in TYPES:
            grace.tasks.types.task_type(task_type)(_work)
        actions: list[str] = []
        dispatch = grace.commands.dispatch

        async def spy(ctx: CommandContext, command: Command) -> dict[str, Any]:
            result = await dispatch(ctx, command)
            if command.type in ACTING:
                actions.append(command.type)
            return result

        grace.commands.dispatch = spy  # type: ignore[method-assign]
        async with grace:
            await populate(grace, name)
            self.switch.apps[key.encode()] = chat_app(grace)
            try:
                yield grace, actions, key
            finally:
                del self.switch.apps[key.encode()]

    async def say(
        self, http: httpx.AsyncClient, grace: Grace, key: str, text: str
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {grace.tokens.issue(USER)}", "x-world": key}
        response = await http.post("/api/unified/chat", json={"text": text}, headers=headers)
        if response.status_code != 200:
            return {"text": response.text, "intent": "error", "data": {}}
        return dict(response.json())

    async def run(self, row: Row) -> RowResult:
        async with (
            self.world(row.world) as (grace, actions, key),
            httpx.AsyncClient(base_url=self.url, timeout=30) as http,
        ):
            for sentence in row.before:
                await self.say(http, grace, key, sentence)
            before = await settled(grace)  # what the earlier sentences did has taken effect
            actions.clear()
            reply = await self.say(http, grace, key, row.sentence)
            after = await settled(grace)  # and what this one did, if anything
        outcome = RowResult(row, reply, list(actions))
        if before != after and not actions:
            outcome.actions.append("changed the world")
        judge(outcome)
        return outcome


@contextlib.asynccontextmanager
async def bench() -> AsyncIterator[Bench]:
    switch = _Switch()
    sock = listen("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(switch, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    with tempfile.TemporaryDirectory(prefix="grace-phrases-") as root:
        try:
            deadline = time.monotonic() + 10
            while not server.started:
                if task.done() or time.monotonic() > deadline:
                    raise AssertionError("phrase server did not start")
                await asyncio.sleep(0.01)
            yield Bench(base_url("127.0.0.1", port), switch, Path(root))
        finally:
            server.should_exit = True
            await asyncio.wait_for(task, 15)


# -- judging ---------------------------------------------------------------------------------


def reply_slots(reply: dict[str, Any]) -> dict[str, Any]:
    data = reply.get("data") or {}
    slots = dict(data.get("slots") or {})
    task = data.get("task")
    if isinstance(task, dict):
        slots.setdefault("task_id", task.get("task_id"))
        slots.setdefault("task_type", task.get("task_type"))
    approval = data.get("approval")
    if isinstance(approval, dict):
        slots.setdefault("approval_id", approval.get("approval_id"))
    if isinstance(data.get("intent"), str):
        slots.setdefault("intent", data["intent"])
    return slots


def judge(outcome: RowResult) -> None:
    row, reply = outcome.row, outcome.reply
    if row.must_not_act and outcome.actions:
        outcome.problems.append(f"acted: {', '.join(outcome.actions)}")
    got = reply.get("intent")
    if got != row.intent:
        outcome.problems.append(f"intent {got!r}, expected {row.intent!r}")
        return
    slots = reply_slots(reply)
    for key, want in row.slots.items():
        if key == "suggests":
            offered = {
                s["command"]["type"]
                for s in (reply.get("data") or {}).get("suggestions", [])
                if isinstance(s, dict) and isinstance(s.get("command"), dict)
            }
            missing = [kind for kind in want.split("+") if kind not in offered]
            if missing:
                outcome.problems.append(f"no suggestion {missing}; offered {sorted(offered)}")
        elif str(slots.get(key)) != want:
            outcome.problems.append(f"{key}={slots.get(key)!r}, expected {want!r}")
    if not row.must_not_act and not outcome.actions and row.intent not in (None, "clarify"):
        outcome.problems.append("did not act: " + str(reply.get("text", ""))[:120])


@dataclass(slots=True)
class Score:
    table: str
    outcomes: list[RowResult]

    @property
    def right(self) -> int:
        return sum(o.right for o in self.outcomes)

    @property
    def total(self) -> int:
        return len(self.outcomes)

    @property
    def accuracy(self) -> float:
        return self.right / self.total if self.total else 0.0

    @property
    def must_not_act(self) -> int:
        return sum(o.row.must_not_act for o in self.outcomes)

    @property
    def wrongful_actions(self) -> list[RowResult]:
        return [o for o in self.outcomes if o.row.must_not_act and o.actions]

    def line(self) -> str:
        return (
            f"{self.table}: {self.right}/{self.total} right ({self.accuracy:.1%}); "
            f"must-not-act sentences: {self.must_not_act}, actions taken by them: "
            f"{len(self.wrongful_actions)}"
        )


async def score(table: str, runner: Bench, parallel: int = 4) -> Score:
    """Every row of ``table``, ``parallel`` at a time (each in its own world), in table order."""
    gate = asyncio.Semaphore(parallel)

    async def one(row: Row) -> RowResult:
        async with gate:
            return await runner.run(row)

    return Score(table, list(await asyncio.gather(*(one(row) for row in load(table)))))
