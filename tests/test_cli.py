"""The ``grace`` command line, run as real processes: serve, token, notify, tail."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import websockets

from grace_chat.config import Settings
from tests.support import Client
from tests.support import serve as serve_here
from tests.support.processes import RUNNING, Proc, grace, run


@dataclass
class Served:
    proc: Proc
    url: str
    port: int
    token: str

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/api/notifications/stream"


@asynccontextmanager
async def serve(data_dir: Path, port: int = 0) -> AsyncIterator[Served]:
    async with grace(
        "serve", "--port", str(port), "--data-dir", str(data_dir), "--log-level", "warning"
    ) as proc:
        found = await proc.line(RUNNING.pattern)
        yield Served(proc, found[1], int(found[2]), found[3])


@asynccontextmanager
async def ws_client(served: Served, token: str) -> AsyncIterator[Client]:
    async with websockets.connect(served.ws_url) as ws:
        client = Client(ws)
        await client.send({"type": "hello", "token": token})
        yield client


async def test_serve_prints_a_url_and_a_token_the_server_accepts(tmp_path: Path) -> None:
    async with serve(tmp_path / "d") as served, ws_client(served, served.token) as c:
        welcome, _, _ = await c.welcome()
        assert welcome["user_id"] == "user"
        assert (await c.command({"type": "ping"}))["type"] == "pong"
    assert (tmp_path / "d" / "grace.db").exists()


async def test_token_mints_a_token_the_running_server_accepts(tmp_path: Path) -> None:
    data = str(tmp_path / "d")
    async with serve(tmp_path / "d") as served:
        code, out, err = await run("token", "ann", "--data-dir", data)
        assert code == 0, err
        async with ws_client(served, out.strip()) as c:
            welcome, _, _ = await c.welcome()
        assert welcome["user_id"] == "ann"


async def test_notify_delivers_to_a_connected_client(tmp_path: Path) -> None:
    data = str(tmp_path / "d")
    async with serve(tmp_path / "d") as served:
        _, token, _ = await run("token", "ann", "--data-dir", data)
        async with ws_client(served, token.strip()) as c:
            await c.welcome()
            code, out, err = await run(
                "notify", "ann", "task_completed", "Deployment completed successfully",
                "--data", '{"task_id": "t1"}', "--url", served.url, "--data-dir", data,
            )  # fmt: skip
            assert code == 0, err
            assert "sent #1 to ann" in out
            (frame,) = await c.notifications(1)
        assert frame["message"] == "Deployment completed successfully"
        assert frame["badge"] == "✅" and frame["data"] == {"task_id": "t1"}
        code, _, err = await run(
            "notify", "ann", "Bad Type", "x", "--url", served.url, "--data-dir", data
        )
        assert code == 1 and "bad_request" in err


async def test_tail_prints_the_notifications(tmp_path: Path) -> None:
    data = str(tmp_path / "d")
    async with serve(tmp_path / "d") as served:
        common = ("--url", served.url, "--data-dir", data)
        async with grace("tail", "ann", "--count", "2", "--json", *common) as tail:
            await tail.line("connected as ann", stream="err")
            for message in ("first", "second"):
                code, _, err = await run("notify", "ann", "test", message, *common)
                assert code == 0, err
            assert await asyncio.wait_for(tail.proc.wait(), 20) == 0
            await tail.line("second")
        frames = [json.loads(line) for line in tail.out]
        assert [(f["seq"], f["message"]) for f in frames] == [(1, "first"), (2, "second")]


async def test_tail_resumes_across_a_server_restart_without_loss_or_duplicates(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "d"
    data = str(data_dir)
    async with serve(data_dir) as first:
        port = first.port
        common = ("--url", first.url, "--data-dir", data)
        tail_cm = grace("tail", "ann", "--count", "4", "--json", *common)
        tail = await tail_cm.__aenter__()
        try:
            await tail.line("connected as ann", stream="err")
            assert (await run("notify", "ann", "test", "before restart", *common))[0] == 0
            await tail.line("before restart")
        except BaseException:
            await tail_cm.__aexit__(None, None, None)
            raise
    try:
        # the server is down: tail notices and keeps retrying
        await tail.line("disconnected|reconnecting", stream="err")
        async with serve(data_dir, port) as second:
            assert second.url == first.url
            for message in ("while away 1", "while away 2", "after restart"):
                code, _, err = await run("notify", "ann", "test", message, *common)
                assert code == 0, err
            assert await asyncio.wait_for(tail.proc.wait(), 30) == 0
            await tail.line("after restart")
            assert tail.proc.stderr is not None
            tail.err += (await tail.proc.stderr.read()).decode().splitlines()
    finally:
        with suppress(Exception):
            await tail_cm.__aexit__(None, None, None)
    frames = [json.loads(line) for line in tail.out]
    assert [(f["seq"], f["message"]) for f in frames] == [
        (1, "before restart"),
        (2, "while away 1"),
        (3, "while away 2"),
        (4, "after restart"),
    ]
    assert sum("connected as ann" in line for line in tail.err) >= 2


async def test_a_second_server_on_the_same_data_dir_is_refused(tmp_path: Path) -> None:
    async with serve(tmp_path / "d"):
        code, out, err = await run("serve", "--port", "0", "--data-dir", str(tmp_path / "d"))
    assert code == 2
    assert err.startswith("grace: another Grace process is using")
    assert "Traceback" not in err
    assert "Grace is running" not in out


async def test_tail_prints_the_away_summary_before_going_live(settings: Settings) -> None:
    async with serve_here(settings.with_(away_digest_threshold=3)) as srv:
        for i in range(3):
            data = {"task_id": f"t{i}", "task_type": "backup"}
            await srv.grace.notify_user("ann", "task_failed", f"Backup {i} failed", data=data)
        async with Client.connect(srv, "ann") as watching:
            await watching.welcome()
            asked = await srv.grace.action_gateway.request_action(
                "modify_file", "learning_supervisor", {"file_path": "a.yaml"}, user_id="ann"
            )
            await watching.until("approval_needed")  # stored: the replay will have it
        args = ("--since", "0", "--count", "5", "--url", srv.url, "--token", srv.token("ann"))
        async with grace("tail", "ann", *args) as tail:
            found = await tail.line("while you were away")
            assert found.string.startswith("4 notifications while you were away: ")
            assert "1 approval waits for you" in found.string and "3 tasks failed" in found.string
            assert f"Waiting for you: {asked['approval_id']}" in found.string
            await srv.grace.notify_user("ann", "test", "live again")
            assert await asyncio.wait_for(tail.proc.wait(), 20) == 0
            await tail.line("live again")
        printed = [line.split(" ", 3)[-1] for line in tail.out if line.startswith("#")]
        assert printed == [*(f"Backup {i} failed" for i in range(3)), printed[3], "live again"]
        assert tail.out.index(found.string) == 4  # after the replay, before the live one
