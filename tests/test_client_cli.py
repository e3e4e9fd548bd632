"""The client side of the ``grace`` command line, as a newcomer meets it: ``token``, ``notify``,
``tail`` and ``learn`` against the server ``grace demo`` (what ``scripts/serve`` runs) started,
with no flags; ``GRACE_URL`` / ``GRACE_TOKEN``; ``tail``'s bounded retries; bad values as one
line and exit code 2; plain output without ``rich``; and the example approval bot."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from tests.support import Running
from tests.support.processes import ENV, Proc

ROOT = Path(__file__).resolve().parent.parent
GRACE = [sys.executable, "-m", "grace_chat.cli"]
#: ``grace`` with ``rich`` impossible to import, as when the ``cli`` extra is not installed.
GRACE_WITHOUT_RICH = [
    sys.executable,
    "-c",
    "import sys; sys.modules['rich'] = None; from grace_chat.cli import main; "
    "sys.exit(main(sys.argv[1:]))",
]
RUNNING = re.compile(r"Grace is running at (http://127\.0\.0\.1:(\d+))/\?token=(\S+)")


async def run_in(
    cwd: Path, *args: str, env: dict[str, str] | None = None, program: list[str] = GRACE
) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *program,
        *args,
        cwd=cwd,
        env={**ENV, **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@asynccontextmanager
async def started(cwd: Path, *args: str) -> AsyncIterator[Proc]:
    proc = await asyncio.create_subprocess_exec(
        *GRACE,
        *args,
        cwd=cwd,
        env=ENV,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    running = Proc(proc)
    try:
        yield running
    finally:
        await running.stop()


async def test_the_client_commands_work_against_the_demo_server_with_no_flags(
    tmp_path: Path,
) -> None:
    """``grace demo`` (its data in .grace-demo) on a port of its choosing; every client command
    run from the same directory finds it and signs with its secret."""
    async with started(tmp_path, "demo", "--port", "0", "--log-level", "warning") as demo:
        url = (await demo.line(RUNNING.pattern, timeout=60))[1]
        record = json.loads((tmp_path / ".grace-demo" / "server.json").read_text())
        assert record["url"] == url
        assert not (tmp_path / ".grace").exists()

        code, out, err = await run_in(tmp_path, "token", "ann")
        assert code == 0, err
        async with httpx.AsyncClient(base_url=url) as http:
            whoami = await http.get(
                "/api/session", headers={"Authorization": f"Bearer {out.strip()}"}
            )
        assert whoami.status_code == 200 and whoami.json()["user_id"] == "ann"

        tail = await asyncio.create_subprocess_exec(
            *GRACE,
            "tail",
            "ann",
            "--count",
            "1",
            "--json",
            cwd=tmp_path,
            env=ENV,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        watching = Proc(tail)
        try:
            await watching.line("connected as ann", stream="err")
            code, out, err = await run_in(tmp_path, "notify", "ann", "test", "hello newcomer")
            assert code == 0, err
            assert out.startswith("sent #") and "hello newcomer" in out
            assert await asyncio.wait_for(tail.wait(), 20) == 0
            found = await watching.line("hello newcomer")
        finally:
            await watching.stop()
        assert json.loads(found.string)["message"] == "hello newcomer"

        doc = tmp_path / "notes.md"
        doc.write_text("# Runbook\n\nRestart the cache with `systemctl restart cache`.\n")
        code, out, err = await run_in(
            tmp_path, "learn", str(doc), "--timeout", "60", program=GRACE_WITHOUT_RICH
        )
        assert code == 0, err
        assert out.startswith("ingested notes.md")
        assert "notes.md: " in err and "\x1b[" not in err  # plain lines, no terminal codes
    assert not (tmp_path / ".grace-demo" / "server.json").exists()


async def test_grace_url_and_grace_token_are_read_and_flags_override_them(
    server: Running, tmp_path: Path
) -> None:
    token = server.token("ann")
    env = {"GRACE_URL": server.url, "GRACE_TOKEN": token}
    await server.grace.notify_user("ann", "test", "through the environment")
    code, out, err = await run_in(tmp_path, "tail", "ann", "--since", "0", "--count", "1", env=env)
    assert code == 0, err
    assert "through the environment" in out
    # a flag wins over the environment: this URL has no server, and tail says so and stops
    dead = "http://127.0.0.1:9"
    code, out, err = await run_in(tmp_path, "tail", "ann", "--url", dead, "--retries", "1", env=env)
    assert code == 1 and f"gave up after 1 attempts in a row to follow {dead}" in err
    code, out, err = await run_in(tmp_path, "tail", "ann", "--token", "forged", env=env)
    assert code == 1 and err.strip() == "grace: the server refused the token: invalid token"


async def test_tail_gives_up_after_its_bounded_retries_with_a_clear_last_line(
    tmp_path: Path,
) -> None:
    code, _, err = await run_in(
        tmp_path, "tail", "ann", "--url", "http://127.0.0.1:9", "--retries", "3", "--token", "t"
    )
    assert code == 1
    lines = err.strip().splitlines()
    assert sum("reconnecting in" in line for line in lines) == 2
    assert lines[-1].startswith("grace: gave up after 3 attempts in a row to follow ")
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["serve", "--port", "http"], "--port must be a whole number from 0 to 65535"),
        (["demo", "--port", "70000"], "--port must be a whole number from 0 to 65535"),
        (["serve", "--user", ""], "--user: user_id must be a non-empty string"),
        (["token", ""], "USER: user_id must be a non-empty string"),
        (["token", "ann", "--ttl", "-5"], "--ttl must be a whole number of at least 1"),
        (["tail", "ann", "--url", "ftp://h"], "bad server URL 'ftp://h'"),
        (["tail", "ann", "--url", "http://h:99999"], "bad server URL"),
        (["tail", "ann", "--since", "-1"], "--since must be a whole number of at least 0"),
        (["tail", "ann", "--retries", "0"], "--retries must be a whole number of at least 1"),
        (["notify", "ann", "t", "m", "--url", "localhost:8000"], "bad server URL"),
        (["notify", "ann", "t", "m", "--data", "[1]"], "--data must be a JSON object"),
        (["learn", "x.md", "--url", "nope"], "x.md"),
    ],
)
async def test_bad_values_are_one_line_and_exit_code_2(
    tmp_path: Path, args: list[str], says: str
) -> None:
    code, out, err = await run_in(tmp_path, *args)
    assert code == 2, (out, err)
    assert len(err.strip().splitlines()) == 1 and err.startswith("grace: ")
    assert says in err


async def test_every_subcommand_says_what_it_does(tmp_path: Path) -> None:
    for command in ("serve", "demo", "token", "notify", "tail", "learn"):
        code, out, _ = await run_in(tmp_path, command, "--help", program=GRACE_WITHOUT_RICH)
        assert code == 0
        description = out.split("\n\n")[1]
        assert len(description.split()) >= 8, f"grace {command} --help: {description!r}"


async def test_the_example_bot_answers_approvals_once_across_its_restarts(
    server: Running, tmp_path: Path
) -> None:
    gateway = server.grace.action_gateway
    trusted = await gateway.request_action("restart_service", "deployer", {}, user_id="ops")
    untrusted = await gateway.request_action("drop_database", "deployer", {}, user_id="ops")
    env = {
        "GRACE_URL": server.url,
        "GRACE_TOKEN": server.token("ops"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    bot = [sys.executable, str(ROOT / "examples" / "approval_bot.py")]
    cursor = str(tmp_path / "cursor.json")
    args = ("--trust", "restart_service", "--cursor", cursor, "--exit-after", "2")
    code, out, err = await run_in(tmp_path, *args, env=env, program=bot)
    assert code == 0, err
    assert f"{trusted['approval_id']} (restart_service): approved" in out
    assert f"{untrusted['approval_id']} (drop_database): rejected" in out
    async with httpx.AsyncClient(base_url=server.url, headers=server.auth("ops")) as http:
        response = await http.get(f"/api/approvals/{untrusted['approval_id']}")
    assert response.json()["reason"] == "drop_database needs a person to decide"
    # restarted, it resumes after what it handled: only the new approval is answered
    later = await gateway.request_action("restart_service", "deployer", {}, user_id="ops")
    args = ("--trust", "restart_service", "--cursor", cursor, "--exit-after", "1")
    code, out, err = await run_in(tmp_path, *args, env=env, program=bot)
    assert code == 0, err
    answered = [line for line in out.splitlines() if line.startswith("appr")]
    assert answered == [f"{later['approval_id']} (restart_service): approved"]


def test_the_target_is_the_running_server_and_flags_and_environment_win(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from grace_chat import target

    monkeypatch.chdir(tmp_path)
    nothing = target.resolve(None, None, {})
    assert nothing == target.Target(target.DEFAULT_URL, Path(".grace"), False)
    demo = Path(".grace-demo")
    demo.mkdir()
    target.announce(demo, "http://127.0.0.1:8123")
    assert (demo / "server.json").stat().st_mode & 0o077 == 0
    found = target.resolve(None, None, {})
    assert found == target.Target("http://127.0.0.1:8123", demo, True)
    # the same server named by hand (localhost is 127.0.0.1) still signs with its secret
    assert target.resolve("http://localhost:8123", None, {}).data_dir == demo
    # another server: the default data directory
    assert target.resolve(None, None, {"GRACE_URL": "http://h:1"}).data_dir == Path(".grace")
    assert target.resolve(None, "elsewhere", {}).data_dir == Path("elsewhere")
    assert target.resolve(None, None, {"GRACE_DATA_DIR": "env-dir"}).data_dir == Path("env-dir")
    # a record left by a server killed with SIGKILL is ignored
    (demo / "server.json").write_text(json.dumps({"url": "http://127.0.0.1:1", "pid": dead_pid()}))
    assert target.resolve(None, None, {}).url == target.DEFAULT_URL
    target.announce(demo, "http://127.0.0.1:8123")
    target.withdraw(demo)
    assert not (demo / "server.json").exists()


def dead_pid() -> int:
    import subprocess

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid
