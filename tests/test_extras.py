"""The optional parts: a system whose extra is missing, ``grace learn`` without rich, and an
installed uvicorn that lacks what the fast WebSocket path subclasses.

A missing library is simulated where Grace asks for it (``grace_chat.extras.installed``, or the
uvicorn module the fast path imports); ``tests/test_packaging.py`` runs the real core install.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from grace_chat import cli, extras
from grace_chat.api import server
from grace_chat.api.app import create_app
from grace_chat.app import Grace
from grace_chat.config import Settings
from grace_chat.errors import ConfigError, MissingExtra
from tests.support import Client, serve

LEARNING_MESSAGE = (
    "the learning system needs pypdf, python-multipart: pip install 'grace-chat[learning]'"
)


@pytest.fixture
def without(monkeypatch: pytest.MonkeyPatch) -> Iterator[set[str]]:
    """Distributions added to the returned set count as not installed."""
    gone: set[str] = set()
    real = extras.installed
    monkeypatch.setattr(extras, "installed", lambda name: name not in gone and real(name))
    yield gone


def left_out(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "Grace runs without it" in r.getMessage()]


async def test_all_systems_start_those_whose_extras_are_installed_and_say_which_not(
    settings: Settings, without: set[str], caplog: pytest.LogCaptureFixture
) -> None:
    without.update({"pypdf", "python-multipart"})
    with caplog.at_level(logging.INFO, logger="grace"):
        grace = Grace(settings)
    assert left_out(caplog) == [f"{LEARNING_MESSAGE}; Grace runs without it"]
    assert grace.learning is None
    assert grace.guardian is not None and grace.healer is not None
    async with serve(settings, grace) as srv, srv.http() as http:
        gone = await http.get("/api/learning", headers=srv.auth("ann"))
        assert gone.status_code == 503
        assert gone.json()["error"] == {"code": "unavailable", "message": LEARNING_MESSAGE}
        sent = await http.post(
            "/api/notifications/publish",
            json={"user_id": "ann", "type": "task_completed", "message": "Backup done"},
            headers=srv.auth("ops", admin=True),
        )
        assert sent.status_code == 201, sent.text
        async with Client.connect(srv, "ann", since=0) as client:
            _, replayed, _ = await client.welcome()
        assert [f["message"] for f in replayed] == ["Backup done"]


async def test_the_routes_and_commands_of_a_system_left_out_name_its_extra(
    settings: Settings, without: set[str]
) -> None:
    without.update({"pypdf", "python-multipart", "psutil"})
    grace = Grace(settings)
    assert grace.learning is None and grace.guardian is None
    async with serve(settings, grace) as srv, srv.http() as http:
        ann = srv.auth("ann")
        for method, path in [
            ("POST", "/api/learning/documents"),
            ("POST", "/api/learning/pause"),
            ("GET", "/api/learning/jobs/t1"),
            ("GET", "/api/knowledge/search?q=x"),
        ]:
            answer = await http.request(method, path, headers=ann)
            assert answer.status_code == 503, (path, answer.text)
            assert answer.json()["error"] == {"code": "unavailable", "message": LEARNING_MESSAGE}
        guardian = await http.get("/api/guardian", headers=ann)
        assert guardian.status_code == 503
        assert guardian.json()["error"]["message"] == (
            "the guardian system needs psutil: pip install 'grace-chat[guardian]'"
        )
        said = await http.post("/api/unified/chat", json={"text": "Pause learning"}, headers=ann)
        assert "pip install 'grace-chat[learning]'" in said.text, said.text
        async with Client.connect(srv, "ann") as client:
            await client.welcome()
            reply = await client.command({"type": "pause_learning", "id": "p1"})
        assert reply["type"] == "error" and reply["code"] == "unavailable"
        assert reply["message"] == (
            "'pause_learning' is not available: the learning supervisor is not enabled on this "
            f"server ({LEARNING_MESSAGE})"
        )
        assert (await http.get("/api/status", headers=ann)).status_code == 200  # still serves


async def test_a_system_not_chosen_answers_not_found_saying_it_is_not_enabled(
    settings: Settings,
) -> None:
    async with serve(settings, Grace(settings, systems={"chat"})) as srv, srv.http() as http:
        answer = await http.post("/api/learning/pause", headers=srv.auth("ann"))
        assert answer.status_code == 404
        assert answer.json()["error"] == {
            "code": "not_found",
            "message": "no such path: /api/learning/pause "
            "(the learning system is not enabled on this server)",
        }
        guardian = await http.get("/api/guardian", headers=srv.auth("ann"))
        assert guardian.status_code == 404
        assert "health guardian is not enabled" in guardian.json()["error"]["message"]
        said = await http.post(
            "/api/unified/chat", json={"text": "Pause learning"}, headers=srv.auth("ann")
        )
        assert "the learning supervisor is not enabled on this server" in said.text, said.text
        assert "pip install" not in said.text


def test_a_system_asked_for_by_name_fails_at_start_naming_its_extra(
    settings: Settings, without: set[str]
) -> None:
    without.update({"pypdf", "python-multipart"})
    with pytest.raises(MissingExtra) as raised:
        Grace(settings, systems={"learning", "missions"})
    assert str(raised.value) == LEARNING_MESSAGE
    assert isinstance(raised.value, ConfigError)
    assert raised.value.extra == "learning"
    without.clear()
    without.add("psutil")
    with pytest.raises(MissingExtra, match=r"guardian system needs psutil: .*\[guardian\]'"):
        Grace(settings, systems=["guardian"])
    assert Grace(settings, systems={"learning", "missions"}).guardian is None


async def test_grace_learn_without_rich_prints_plain_progress_lines(
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for module in ("rich", "rich.console", "rich.progress"):
        monkeypatch.setitem(sys.modules, module, None)
    document = tmp_path / "notes.md"
    document.write_text("# Notes\n\nBackups run nightly at two and keep thirty days.\n")
    async with serve(settings, Grace(settings, systems={"learning"})) as srv:
        argv = ["learn", str(document), "--url", srv.url, "--token", srv.token("ann")]
        code = await asyncio.to_thread(cli.main, argv)
    out, err = capsys.readouterr()
    assert code == 0, (out, err)
    assert out.startswith("ingested notes.md: trust "), out
    progress = err.splitlines()
    assert progress and all(line.startswith("notes.md: ") for line in progress), err
    assert progress[-1].startswith("notes.md: succeeded")
    assert "rich" not in err and "\x1b[" not in err  # no extra asked for, no terminal codes


def test_grace_version_prints_the_distribution_and_its_version(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from importlib.metadata import version

    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"grace-chat {version('grace-chat')}"


@pytest.fixture
def fast_path_checked_again() -> Iterator[None]:
    server.fast_websockets.cache_clear()
    yield
    server.fast_websockets.cache_clear()


@pytest.mark.usefixtures("fast_path_checked_again")
@pytest.mark.parametrize("missing", ["old uvicorn", "no sans-I/O protocol"])
async def test_without_what_the_fast_path_needs_the_asgi_route_serves_with_one_warning(
    settings: Settings,
    missing: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    if missing == "old uvicorn":
        monkeypatch.setattr(uvicorn, "__version__", "0.52.0")
    else:  # importing the fast path fails, as under uvicorn 0.34, which has no such protocol
        monkeypatch.setitem(sys.modules, "grace_chat.api.wsproto", None)
    with caplog.at_level(logging.WARNING, logger="grace.server"):
        grace = Grace(settings, systems=False)
        made = server.make_server(create_app(grace), settings)
        assert isinstance(made.config.ws, str)  # uvicorn's own protocol, not Grace's
        async with serve(settings, grace) as srv:
            await grace.notify_user("ann", "test", "still delivered")
            async with Client.connect(srv, "ann", since=0) as client:
                _, replayed, _ = await client.welcome()
                assert [f["message"] for f in replayed] == ["still delivered"]
                reply = await client.command({"type": "status"})
                assert reply["type"] != "error"
    warnings = [r.getMessage() for r in caplog.records if r.name == "grace.server"]
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith("the fast WebSocket path is off: it needs uvicorn 0.52.1")
    assert "pip install 'uvicorn>=0.52.1'" in warnings[0]


@pytest.mark.usefixtures("fast_path_checked_again")
def test_the_installed_uvicorn_runs_the_fast_path(settings: Settings) -> None:
    made = server.make_server(create_app(Grace(settings, systems=False)), settings)
    assert not isinstance(made.config.ws, str)
    assert made.config.ws.__name__ == "GraceWebSocketProtocol"
