"""The learning supervisor: jobs as tasks, the seed's notifications, pause / resume as a durable
gate, failures that stay inside their job, uploads, the watched folder and ``grace learn``."""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import sys
import textwrap
from pathlib import Path

import pytest

from grace_chat.auth import Identity
from grace_chat.config import Settings
from grace_chat.learning.model import LearningJob
from tests.support import Client, Running
from tests.support.learning import (
    GUIDE_MD,
    SPEC_PDF,
    finished,
    learning_server,
    learning_settings,
    search,
)

pytestmark = pytest.mark.engines
PAUSED = "Learning jobs paused. Grace will not start new learning tasks."


async def test_an_ingested_pdf_is_announced_with_the_seeds_wording(
    settings: Settings, tmp_path: Path
) -> None:
    (tmp_path / "CRM_API_Spec.pdf").write_bytes(SPEC_PDF)
    async with learning_server(settings) as (srv, supervisor), Client.connect(srv, "user") as c:
        await c.welcome()
        job = await supervisor.submit(tmp_path / "CRM_API_Spec.pdf", "user")
        frames = await c.until("task_completed")
        assert [f["type"] for f in frames] == [
            "task_started",
            "learning_complete",
            "task_completed",
        ]
        started, learned, completed = frames
        assert started["message"] == f"Ingest CRM_API_Spec.pdf task started: {job.task_id}"
        assert learned["badge"] == "🧠"
        assert learned["message"] == "Ingested CRM_API_Spec.pdf, trust 0.92"
        assert learned["data"]["task_id"] == job.task_id and learned["data"]["passages"] >= 1
        assert learned["data"]["document_id"].startswith("doc_")
        assert completed["message"] == "Ingest CRM_API_Spec.pdf completed successfully"
        assert completed["data"]["result"]["trust"] == 0.92

        listing = await c.command({"type": "list_tasks"})
        (task,) = listing["tasks"]
        assert task["task_id"] == job.task_id and task["task_type"] == "learning"
        assert task["state"] == "succeeded" and task["progress"] == 1.0


async def test_broken_and_unsupported_files_fail_their_own_job_only(
    settings: Settings, tmp_path: Path
) -> None:
    (tmp_path / "corrupt.pdf").write_bytes(SPEC_PDF[:300])
    (tmp_path / "slides.pptx").write_bytes(b"PK\x03\x04 not for us")
    (tmp_path / "guide.md").write_bytes(GUIDE_MD)
    async with learning_server(settings) as (srv, supervisor), Client.connect(srv, "user") as c:
        await c.welcome()
        corrupt = await supervisor.submit(tmp_path / "corrupt.pdf", "user")
        unsupported = await supervisor.submit(tmp_path / "slides.pptx", "user")
        missing = await supervisor.submit(tmp_path / "gone.txt", "user")
        good = await supervisor.submit(tmp_path / "guide.md", "user")

        bad_pdf = await finished(srv, corrupt.task_id)
        assert bad_pdf["state"] == "failed"
        assert bad_pdf["error"].startswith("not a readable PDF: ")
        bad_type = await finished(srv, unsupported.task_id)
        assert bad_type["state"] == "failed"
        assert bad_type["error"].startswith("unsupported file type '.pptx' (supported: ")
        assert (await finished(srv, missing.task_id))["error"] == (
            "the file does not exist (any more)"
        )
        assert (await finished(srv, good.task_id))["state"] == "succeeded"

        failures = []
        while len(failures) < 3:
            (frame,) = await c.notifications(1)
            if frame["type"] == "task_failed":
                failures.append(frame)
        messages = {f["data"]["task_id"]: f["message"] for f in failures}
        assert messages[unsupported.task_id].startswith(
            "Ingest slides.pptx failed: unsupported file type '.pptx'"
        )
        assert all(f["badge"] == "❌" for f in failures)
        assert (await search(srv, "canary"))[0]["name"] == "guide.md"
        assert srv.grace.started  # the supervisor and the server are still up


async def test_paused_learning_holds_new_jobs_until_resumed(
    settings: Settings, tmp_path: Path
) -> None:
    async with learning_server(settings) as (srv, _), Client.connect(srv, "user") as c:
        await c.welcome()
        reply = await c.command({"type": "pause_learning"})
        assert reply == {
            "type": "learning",
            "scope": "own",
            "state": "paused",
            "effective": "paused",
            "waiting": 0,
            "changed": True,
            "ref": reply["ref"],
        }
        (paused,) = await c.notifications(1)
        assert paused["type"] == "learning_paused" and paused["badge"] == "⏸️"
        assert paused["message"] == PAUSED

        async with srv.http() as http:
            files = {"files": ("guide.md", GUIDE_MD, "text/markdown")}
            response = await http.post(
                "/api/learning/documents", files=files, headers=srv.auth("user")
            )
            assert response.status_code == 202, response.text
            (task_id,) = response.json()["task_ids"]
            assert response.json()["state"] == "paused"
            assert response.json()["jobs"][0]["state"] == "waiting"

            overview = (await http.get("/api/learning", headers=srv.auth("user"))).json()
            assert overview["state"] == "paused" and overview["changed_by"] == "user"
            assert [j["task_id"] for j in overview["waiting"]] == [task_id]
            assert overview["waiting"][0]["state"] == "waiting"

        listing = await c.command({"type": "list_tasks"})
        assert listing["tasks"] == []  # not started: no task yet
        status = await c.command({"type": "status"})
        assert "Learning is paused; 1 document waiting." in status["summary"]
        assert status["learning"]["waiting"][0]["task_id"] == task_id
        assert await search(srv, "canary") == []

        again = await c.command({"type": "pause_learning"})
        assert again["state"] == "paused" and again["waiting"] == 1 and not again["changed"]

        reply = await c.command({"type": "resume_learning"})
        assert reply["state"] == "running" and reply["changed"] and reply["waiting"] == 0
        frames = await c.until("task_completed")
        assert [f["type"] for f in frames] == [
            "learning_resumed",
            "task_started",
            "learning_complete",
            "task_completed",
        ]
        assert frames[0]["badge"] == "▶️" and frames[0]["message"] == "Learning resumed."
        assert frames[1]["data"]["task_id"] == task_id
        assert (await search(srv, "canary"))[0]["name"] == "guide.md"
        status = await c.command({"type": "status"})
        assert "Learning is running." in status["summary"]


async def test_rest_pause_and_resume(settings: Settings, tmp_path: Path) -> None:
    async with learning_server(settings) as (srv, _), srv.http() as http:
        paused = await http.post("/api/learning/pause", headers=srv.auth("user"))
        assert paused.json() == {
            "type": "learning",
            "scope": "own",
            "state": "paused",
            "effective": "paused",
            "waiting": 0,
            "changed": True,
        }
        resumed = await http.post("/api/learning/resume", headers=srv.auth("user"))
        assert resumed.json()["state"] == "running" and resumed.json()["changed"]
        assert (await http.post("/api/learning/pause")).status_code == 401


async def test_the_paused_state_and_the_waiting_queue_survive_a_restart(
    settings: Settings, tmp_path: Path
) -> None:
    (tmp_path / "CRM_API_Spec.pdf").write_bytes(SPEC_PDF)
    async with learning_server(settings) as (srv, supervisor):
        assert await supervisor.pause(Identity("user"))
        first = await supervisor.submit(tmp_path / "CRM_API_Spec.pdf", "user")
        second = await supervisor.submit(("guide.md", GUIDE_MD), "user")
        assert first.state.value == second.state.value == "waiting"

    async with learning_server(settings) as (srv, supervisor), srv.http() as http:
        overview = (await http.get("/api/learning", headers=srv.auth("user"))).json()
        assert overview["state"] == "paused"
        assert [j["task_id"] for j in overview["waiting"]] == [first.task_id, second.task_id]
        assert (await http.get("/api/tasks", headers=srv.auth("user"))).json()["tasks"] == []

        resumed = await http.post("/api/learning/resume", headers=srv.auth("user"))
        assert resumed.json()["state"] == "running"
        assert (await finished(srv, first.task_id))["result"]["trust"] == 0.92
        assert (await finished(srv, second.task_id))["state"] == "succeeded"
        assert (await search(srv, "Retry-After header"))[0]["name"] == "CRM_API_Spec.pdf"

    async with learning_server(settings) as (srv, supervisor):
        assert supervisor.state("user").value == "running"  # resuming is durable too


async def test_uploads_over_rest_become_learning_tasks(settings: Settings) -> None:
    async with learning_server(settings) as (srv, _), srv.http() as http:
        files = [
            ("files", ("CRM_API_Spec.pdf", SPEC_PDF, "application/pdf")),
            ("files", ("../../etc/guide.md", GUIDE_MD, "text/markdown")),
        ]
        response = await http.post("/api/learning/documents", files=files, headers=srv.auth("ann"))
        assert response.status_code == 202, response.text
        body = response.json()
        assert [j["name"] for j in body["jobs"]] == ["CRM_API_Spec.pdf", "guide.md"]
        tasks = (await http.get("/api/tasks", headers=srv.auth("ann"))).json()["tasks"]
        assert {t["task_id"] for t in tasks} == set(body["task_ids"])
        assert {t["task_type"] for t in tasks} == {"learning"}
        for task_id in body["task_ids"]:
            assert (await finished(srv, task_id, "ann"))["state"] == "succeeded"
        assert (await search(srv, "canary rollback", user="ann"))[0]["name"] == "guide.md"

        overview = (await http.get("/api/learning", headers=srv.auth("ann"))).json()
        assert {j["task_id"] for j in overview["recent"]} == set(body["task_ids"])
        assert all(j["state"] == "succeeded" for j in overview["recent"])
        other = await http.get(f"/api/learning/jobs/{body['task_ids'][0]}", headers=srv.auth("bo"))
        assert other.status_code == 403
        empty = await http.post("/api/learning/documents", headers=srv.auth("ann"))
        assert empty.status_code == 422
        # The uploaded copies are gone once their jobs ran.
        inbox = settings.data_dir / "learning" / "inbox"
        assert not inbox.exists() or list(inbox.iterdir()) == []


async def test_too_large_uploads_are_refused(settings: Settings) -> None:
    small = learning_settings(settings, max_bytes=1000)
    async with learning_server(small) as (srv, _), srv.http() as http:
        files = {"files": ("big.txt", b"x" * 5000, "text/plain")}
        response = await http.post("/api/learning/documents", files=files, headers=srv.auth("u"))
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "too_large"


async def test_the_watched_folder_learns_new_and_changed_files(
    settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "old.md").write_text("# Old\n\nThe hippopotamus memo.")
    watched = learning_settings(
        settings, watch=str(folder), watch_user="wanda", watch_interval=0.05
    )
    async with learning_server(watched) as (srv, supervisor):
        await until_found(srv, "hippopotamus", "wanda")
        (folder / ".hidden.md").write_text("secretword")
        (folder / "ignored.bin").write_bytes(b"\x00")
        (folder / "sub").mkdir()
        (folder / "sub" / "new.html").write_text("<p>The flamingo report.</p>")
        await until_found(srv, "flamingo", "wanda")
        (folder / "old.md").write_text("# Old\n\nThe rhinoceros memo replaces it.")
        await until_found(srv, "rhinoceros", "wanda")
        assert await search(srv, "hippopotamus", "wanda") == []
        assert await search(srv, "secretword", "wanda") == []
        overview = await supervisor.overview(srv.grace.tokens.verify(srv.token("wanda")))
        assert {j["name"] for j in overview["recent"]} == {"old.md", "new.html"}
        assert all(j["origin"] == "watch" for j in overview["recent"])

    # Files learned before a restart are not learned again.
    async with learning_server(watched) as (srv, supervisor):
        for _ in range(3):
            assert await supervisor.scan() == []


async def until_found(srv: Running, word: str, user: str, timeout: float = 10.0) -> None:
    hits: list[object] = []

    async def poll() -> None:
        while not hits:
            hits.extend(await search(srv, word, user))
            await asyncio.sleep(0.02)

    async with asyncio.timeout(timeout):
        await poll()


RUNNER = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    from grace_chat.api.app import create_app
    from grace_chat.api.server import listen, make_server
    from grace_chat.app import Grace
    from grace_chat.config import Settings

    settings = Settings(data_dir=Path(sys.argv[1]), sqlite_synchronous="NORMAL", port=0)
    grace = Grace(settings, systems={"learning"})
    app = create_app(grace)
    sock = listen("127.0.0.1", 0)
    print(f"listening on {sock.getsockname()[1]}", flush=True)
    make_server(app, settings.with_(log_level="warning")).run(sockets=[sock])
    """
)


async def test_grace_learn_uploads_and_follows_each_document(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (tmp_path / "runner.py").write_text(RUNNER)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "CRM_API_Spec.pdf").write_bytes(SPEC_PDF)
    (docs / "guide.md").write_bytes(GUIDE_MD)
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 truncated")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRACE_")}
    env["GRACE_DATA_DIR"] = str(data)
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        str(tmp_path / "runner.py"),
        str(data),
        stdout=asyncio.subprocess.PIPE,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert server.stdout is not None
        line = (await asyncio.wait_for(server.stdout.readline(), 20)).decode()
        found = re.search(r"listening on (\d+)", line)
        assert found, line
        url = f"http://127.0.0.1:{found.group(1)}"
        await wait_until_up(url)
        learn = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "grace_chat.cli",
            "learn",
            str(docs / "CRM_API_Spec.pdf"),
            str(docs / "guide.md"),
            str(docs / "broken.pdf"),
            "--url",
            url,
            "--user",
            "cli-user",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,  # the token is minted from the server's data directory
        )
        out, err = await asyncio.wait_for(learn.communicate(), 60)
        lines = out.decode().splitlines()
        assert learn.returncode == 1, (out, err)  # one document failed
        assert any(
            re.match(r"ingested CRM_API_Spec\.pdf: trust 0\.92, \d+ passages", x) for x in lines
        )
        assert any(x.startswith("ingested guide.md: trust 0.95") for x in lines), lines
        assert any(x.startswith("failed broken.pdf: not a readable PDF") for x in lines), lines
        assert "100%" in err.decode()  # the progress bars were drawn

        ok = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "grace_chat.cli",
            "learn",
            str(docs / "guide.md"),
            "--url",
            url,
            "--user",
            "cli-user",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        out, _ = await asyncio.wait_for(ok.communicate(), 60)
        assert ok.returncode == 0 and out.decode().startswith("ingested guide.md")

        missing = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "grace_chat.cli",
            "learn",
            str(docs / "nope.md"),
            "--url",
            url,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        _, err = await asyncio.wait_for(missing.communicate(), 30)
        assert missing.returncode == 2 and b"not a file" in err
    finally:
        server.terminate()
        await asyncio.wait_for(server.wait(), 15)


async def wait_until_up(url: str) -> None:
    import httpx

    async with httpx.AsyncClient(base_url=url, timeout=2) as http:
        ready = False

        async def probe() -> None:
            nonlocal ready
            while not ready:
                try:
                    ready = (
                        await http.get("/api/learning", params={"user_id": "x"})
                    ).status_code > 0
                except httpx.HTTPError:
                    await asyncio.sleep(0.05)

        async with asyncio.timeout(20):
            await probe()


async def upload(srv: Running, user: str, name: str = "guide.md", *, admin: bool = False) -> str:
    async with srv.http() as http:
        files = {"files": (name, GUIDE_MD, "text/markdown")}
        response = await http.post(
            "/api/learning/documents", files=files, headers=srv.auth(user, admin=admin)
        )
    assert response.status_code == 202, response.text
    (task_id,) = response.json()["task_ids"]
    return task_id


async def waiting_ids(srv: Running, user: str, *, admin: bool = False) -> list[str]:
    async with srv.http() as http:
        response = await http.get("/api/learning", headers=srv.auth(user, admin=admin))
    assert response.status_code == 200, response.text
    return [j["task_id"] for j in response.json()["waiting"]]


async def test_a_persons_pause_holds_only_their_own_learning(settings: Settings) -> None:
    async with learning_server(settings) as (srv, _), srv.http() as http:
        paused = await http.post("/api/learning/pause", headers=srv.auth("ann"))
        assert paused.status_code == 200, paused.text
        assert paused.json()["scope"] == "own" and paused.json()["state"] == "paused"
        ann_job = await upload(srv, "ann")
        bob_job = await upload(srv, "bob")
        assert (await finished(srv, bob_job, "bob"))["state"] == "succeeded"
        assert await waiting_ids(srv, "ann") == [ann_job]
        assert (await job_state_of(srv, ann_job, "ann"))["state"] == "waiting"

        ann_view = (await http.get("/api/learning", headers=srv.auth("ann"))).json()
        assert (ann_view["state"], ann_view["changed_by"]) == ("paused", "ann")
        assert ann_view["everyone"]["state"] == "running" and "paused_users" not in ann_view
        bob_view = (await http.get("/api/learning", headers=srv.auth("bob"))).json()
        assert bob_view["state"] == "running" and bob_view["changed_by"] is None
        admin_view = await http.get("/api/learning", headers=srv.auth("root", admin=True))
        assert admin_view.json()["paused_users"] == ["ann"]

        resumed = await http.post("/api/learning/resume", headers=srv.auth("ann"))
        assert resumed.json()["changed"] and resumed.json()["effective"] == "running"
        assert (await finished(srv, ann_job, "ann"))["state"] == "succeeded"


async def test_only_an_admin_pauses_everyones_learning_on_every_door(
    settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "watched"
    folder.mkdir()
    watched = learning_settings(
        settings, watch=str(folder), watch_user="wanda", watch_interval=3600
    )
    async with learning_server(watched, chat=True) as (srv, supervisor), srv.http() as http:
        # REST, the socket and the chat refuse everyone's gate to an ordinary user ...
        for action in ("pause", "resume"):
            response = await http.post(
                f"/api/learning/{action}", params={"scope": "all"}, headers=srv.auth("ann")
            )
            assert response.status_code == 403, response.text
            assert response.json()["error"]["code"] == "forbidden"
        async with Client.connect(srv, "ann") as ann:
            await ann.welcome()
            for kind in ("pause_learning", "resume_learning"):
                reply = await ann.command({"type": kind, "scope": "all"})
                assert (reply["type"], reply["code"]) == ("error", "forbidden")
            said = await http.post(
                "/api/unified/chat",
                json={"text": "Pause learning for everyone"},
                headers=srv.auth("ann"),
            )
            assert said.json()["intent"] == "pause_learning"
            assert said.json()["data"]["error"] == "forbidden"
            assert supervisor.gate(None).state.value == "running"

            # ... while "pause learning" keeps working for them, on their own jobs.
            said = await http.post(
                "/api/unified/chat", json={"text": "pause learning"}, headers=srv.auth("ann")
            )
            assert said.json()["intent"] == "pause_learning"
            assert said.json()["data"]["scope"] == "own" and said.json()["data"]["changed"]
            (note,) = await ann.notifications(1)
            assert note["type"] == "learning_paused" and note["message"] == PAUSED
            assert supervisor.gate("ann").paused and not supervisor.gate(None).paused

        # An admin pauses everyone's learning: every user's job waits, the watched folder's too.
        said = await http.post(
            "/api/unified/chat",
            json={"text": "Pause learning for everyone"},
            headers=srv.auth("root", admin=True),
        )
        assert said.json()["data"]["scope"] == "all" and said.json()["data"]["state"] == "paused"
        assert said.json()["text"].startswith("Learning jobs paused for everyone.")
        bob_job = await upload(srv, "bob")
        ann_job = await upload(srv, "ann")
        (folder / "memo.md").write_text("# Memo\n\nThe pelican memo.")
        submitted: list[LearningJob] = []
        for _ in range(3):  # a new file is submitted once it stayed the same for one scan
            submitted = submitted or await supervisor.scan()
        (watch_job,) = submitted
        assert watch_job.state.value == "waiting"
        everyone = await waiting_ids(srv, "root", admin=True)
        assert everyone == [bob_job, ann_job, watch_job.task_id]
        bob_view = (await http.get("/api/learning", headers=srv.auth("bob"))).json()
        assert bob_view["state"] == "paused" and bob_view["everyone"]["changed_by"] == "root"
        status = (await http.get("/api/status", headers=srv.auth("bob"))).json()
        assert "Learning is paused for everyone; 1 document waiting." in status["summary"]

    # Both gates and the waiting jobs survive a restart.
    async with learning_server(watched, chat=True) as (srv, supervisor):
        assert supervisor.gate(None).paused and supervisor.gate("ann").paused
        assert await waiting_ids(srv, "root", admin=True) == [bob_job, ann_job, watch_job.task_id]

        admin_token = srv.token("root", admin=True)
        async with Client.connect(srv, token=admin_token) as root:
            await root.welcome()
            reply = await root.command({"type": "resume_learning", "scope": "all"})
            assert (reply["scope"], reply["state"], reply["changed"]) == ("all", "running", True)
        # everyone's gate is open: bob's and the watched folder's jobs run, ann's still waits
        assert (await finished(srv, bob_job, "bob"))["state"] == "succeeded"
        assert (await finished(srv, watch_job.task_id, "wanda"))["state"] == "succeeded"
        assert await waiting_ids(srv, "ann") == [ann_job]
        async with srv.http() as http:
            said = await http.post(
                "/api/unified/chat", json={"text": "resume learning"}, headers=srv.auth("ann")
            )
            assert said.json()["data"]["changed"] is True
        assert (await finished(srv, ann_job, "ann"))["state"] == "succeeded"


@pytest.mark.sqlite_only  # a file of the embedded engine from before per-user gates
async def test_a_database_with_the_single_learning_gate_keeps_it_as_everyones(
    settings: Settings, tmp_path: Path
) -> None:
    async with learning_server(settings) as (srv, supervisor):
        job = await supervisor.submit(("guide.md", GUIDE_MD), "ann")
        assert (await finished(srv, job.task_id, "ann"))["state"] == "succeeded"
    # Make the file as the previous version left it: one gate row, paused, and a waiting job.
    with sqlite3.connect(settings.data_dir / "grace.db") as conn:
        conn.executescript(
            """
            DROP TABLE learning_gates;
            CREATE TABLE learning_gate (
                id INTEGER PRIMARY KEY CHECK (id = 1), state TEXT NOT NULL,
                changed_at REAL, changed_by TEXT
            );
            INSERT INTO learning_gate VALUES (1, 'paused', 1700000000.0, 'ann');
            """
        )
        source = tmp_path / "old.md"
        source.write_bytes(GUIDE_MD)
        conn.execute(
            "INSERT INTO learning_jobs VALUES ('learn_old', 'bob', 'old.md', ?, 'path', 0, "
            "'waiting', 1700000001.0, NULL)",
            (str(source),),
        )
    async with learning_server(settings) as (srv, supervisor), srv.http() as http:
        assert supervisor.gate(None).paused and supervisor.gate(None).changed_by == "ann"
        assert not supervisor.gate("ann").paused
        assert await waiting_ids(srv, "bob") == ["learn_old"]
        denied = await http.post(
            "/api/learning/resume", params={"scope": "all"}, headers=srv.auth("ann")
        )
        assert denied.status_code == 403
        resumed = await http.post(
            "/api/learning/resume", params={"scope": "all"}, headers=srv.auth("root", admin=True)
        )
        assert resumed.json()["changed"] is True
        assert (await finished(srv, "learn_old", "bob"))["state"] == "succeeded"
    with sqlite3.connect(settings.data_dir / "grace.db") as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "learning_gate" not in tables and "learning_gates" in tables


async def job_state_of(srv: Running, task_id: str, user: str) -> dict[str, object]:
    async with srv.http() as http:
        response = await http.get(f"/api/learning/jobs/{task_id}", headers=srv.auth(user))
    assert response.status_code == 200, response.text
    view: dict[str, object] = response.json()
    return view
