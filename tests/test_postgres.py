"""What only the PostgreSQL engine has: several processes on one database (appends, schema
versions, tasks and missions of a process that is gone), its own schema versions and refusals,
the driver as an extra, full-text search answering as FTS5 does, and ``grace serve`` on it.

The notification log's contract itself is held against every engine in
``test_store_contract.py``; the systems' tests run on PostgreSQL too (``engines`` marker).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import textwrap
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from grace_chat.approvals.model import Approval, ApprovalState, AuditEntry
from grace_chat.auth import TokenAuthority
from grace_chat.config import Settings
from grace_chat.errors import ConfigError
from grace_chat.learning.extract import extract
from grace_chat.learning.knowledge import Document
from grace_chat.learning.passages import split_passages
from grace_chat.missions.model import Mission, MissionState, Step
from grace_chat.notifications.model import Draft, Severity
from grace_chat.store.engines import Stores, open_stores
from grace_chat.tasks.model import TaskRecord, TaskState
from tests.support.learning import FAQ_HTML, GUIDE_MD, SPEC_PDF
from tests.support.postgres import admin, sql
from tests.support.processes import ENV, GRACE, RUNNING


def draft(users: tuple[str, ...], message: str) -> Draft:
    return Draft(users, "test", message, "🧪", Severity.INFO, "Grace Notification")


@pytest.fixture
async def stores(postgres_url: str, tmp_path: Path) -> AsyncIterator[Stores]:
    s = open_stores(Settings(data_dir=tmp_path, database_url=postgres_url))
    await s.notifications.open()
    try:
        yield s
    finally:
        await s.notifications.close()


async def run_python(script: str, *args: str, timeout: float = 120) -> str:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        textwrap.dedent(script),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()[-3000:]
    return out.decode()


# -- several processes appending to one log ---------------------------------------------------

WRITER = """
    import asyncio, json, sys, time
    from grace_chat.notifications.model import Draft, Severity
    from grace_chat.store.backends.postgres_notifications import PostgresNotificationLog

    url, name, start = sys.argv[1], sys.argv[2], float(sys.argv[3])
    lanes, rounds = int(sys.argv[4]), int(sys.argv[5])
    USERS = ("ann", "bob", "cat", "dan")

    def one(users, message):
        return Draft(users, "test", message, "b", Severity.INFO, "t")

    async def main():
        log = PostgresNotificationLog(url, pool_size=2)
        await log.open()
        batches = []
        log.add_commit_listener(lambda committed: batches.append(len(committed)))
        await asyncio.sleep(max(0.0, start - time.time()))  # every writer starts together
        posted, drafts = [], 0

        async def lane(k):
            nonlocal drafts
            for i in range(rounds):
                user, message = USERS[(k + i) % 4], f"{name}.{k}.{i}"
                # mostly one user, sometimes everyone, sometimes two drafts in one call
                if i % 7 == 0:
                    batch = [one(USERS, message)]
                elif i % 5 == 0:
                    batch = [one((user,), message + "a"), one((user,), message + "b")]
                else:
                    batch = [one((user,), message)]
                drafts += len(batch)
                for p in await log.append(batch):
                    for u, s in zip(p.draft.recipients, p.seqs):
                        posted.append((u, s, p.draft.message))

        await asyncio.gather(*(lane(k) for k in range(lanes)))
        await log.close()
        print(json.dumps({"posted": posted, "batches": batches, "drafts": drafts}))

    asyncio.run(main())
"""


async def test_processes_appending_together_keep_every_log_gap_free_and_readers_never_see_a_hole(
    stores: Stores, postgres_url: str
) -> None:
    """Three OS processes append (eight concurrent callers each) to the same four users' logs,
    one notification to many users now and then, while this process pages through every log
    with ``read_since`` the whole time. Each page must continue exactly where the last ended:
    a hole that a later commit fills would show as a page that skips a ``seq``."""
    log = stores.notifications
    users = ("ann", "bob", "cat", "dan")
    processes, lanes, rounds = 3, 8, 40
    start = time.time() + 3.0  # after every writer has connected
    writers = [
        asyncio.create_task(
            run_python(
                WRITER, postgres_url, f"w{p}", str(start), str(lanes), str(rounds), timeout=180
            )
        )
        for p in range(processes)
    ]
    seen: dict[str, list[int]] = {u: [] for u in users}
    messages: dict[str, list[str]] = {u: [] for u in users}
    pages = 0

    async def page_through(user: str) -> bool:
        """One page of ``user``'s log after what was seen; whether it held anything."""
        nonlocal pages
        last = seen[user][-1] if seen[user] else 0
        page = await log.read_since(user, last, 25)
        pages += 1
        got = [n.seq for n in page]
        assert got == list(range(last + 1, last + 1 + len(got))), (
            f"{user}: after seq {last} a page held {got}: a hole, filled later"
        )
        seen[user].extend(got)
        messages[user].extend(n.message for n in page)
        return bool(page)

    while not all(w.done() for w in writers):
        for user in users:
            await page_through(user)
    outputs = [json.loads(await w) for w in writers]
    for user in users:
        while await page_through(user):
            pass

    posted: dict[str, list[tuple[int, str]]] = {u: [] for u in users}
    for out in outputs:
        for user, seq, message in out["posted"]:
            posted[user].append((seq, message))
    for user in users:
        total = len(posted[user])
        # every seq handed out once, no hole, none lost: the reader saw exactly 1..N in order
        assert sorted(s for s, _ in posted[user]) == list(range(1, total + 1))
        assert seen[user] == list(range(1, total + 1))
        assert sorted(messages[user]) == sorted(m for _, m in posted[user])
        assert (await log.head(user)).seq == total
    # and each process grouped its concurrent appends into shared transactions
    for out in outputs:
        assert sum(out["batches"]) == out["drafts"]
        assert len(out["batches"]) < lanes * rounds / 2, out["batches"]
    # the processes really did interleave in the same logs
    writers_in_order = [m.split(".")[0] for m in messages["ann"]]
    switches = sum(a != b for a, b in itertools.pairwise(writers_in_order))
    assert set(writers_in_order) == {f"w{p}" for p in range(processes)} and switches >= 3
    sizes = [b for out in outputs for b in out["batches"]]
    print(
        f"\n{processes} processes x {lanes} callers x {rounds} appends: "
        f"{sum(len(p) for p in posted.values())} entries over {len(users)} users; "
        f"{pages} pages read while they ran, no hole seen; "
        f"{len(sizes)} transactions, {sum(sizes) / len(sizes):.1f} drafts each on average; "
        f"ann's log changed writer process {switches} times"
    )


MIGRATOR = """
    import asyncio, sys
    from grace_chat.store.backends.postgres_notifications import PostgresNotificationLog

    async def main():
        log = PostgresNotificationLog(sys.argv[1], pool_size=1)
        await log.open()
        print(log.db.schema_found, log.epoch)
        await log.close()

    asyncio.run(main())
"""


async def test_processes_starting_together_on_an_empty_database_migrate_it_once(
    postgres_url: str,
) -> None:
    outputs = await asyncio.gather(*(run_python(MIGRATOR, postgres_url) for _ in range(4)))
    found = sorted(out.split()[0] for out in outputs)
    assert found == ["0", "2", "2", "2"]  # one process found it empty, the others done
    assert len({out.split()[1] for out in outputs}) == 1  # one epoch for everyone
    rows = await sql(postgres_url, "SELECT version FROM schema_version")
    assert [r[0] for r in rows] == [1, 2]


async def test_a_database_of_version_1_gains_the_cluster_tables_and_keeps_its_tasks(
    postgres_url: str, tmp_path: Path
) -> None:
    from grace_chat.store.backends.postgres_schema import MIGRATIONS, SCHEMA_VERSION_TABLE

    _, description, ddl = MIGRATIONS[0]
    await admin(SCHEMA_VERSION_TABLE + ";" + ddl, postgres_url)
    await sql(postgres_url, "INSERT INTO schema_version VALUES (1, $1)", description)
    await sql(
        postgres_url,
        "INSERT INTO tasks (task_id, user_id, task_type, state, params, title, created_at) "
        "VALUES ('old', 'ann', 'build', 'succeeded', '{}', '', 1)",
    )
    stores = open_stores(Settings(data_dir=tmp_path, database_url=postgres_url))
    await stores.notifications.open()
    try:
        old = await stores.tasks.get("old")
        assert old is not None and old.state.value == "succeeded"
    finally:
        await stores.notifications.close()
    rows = await sql(postgres_url, "SELECT version FROM schema_version ORDER BY version")
    assert [r[0] for r in rows] == [1, 2]
    assert await sql(postgres_url, "SELECT * FROM control_requests") == []


# -- schema versions, URLs, the driver ----------------------------------------------------------


async def test_a_database_of_a_newer_schema_version_is_refused_in_one_line(
    stores: Stores, postgres_url: str, tmp_path: Path
) -> None:
    await sql(postgres_url, "INSERT INTO schema_version (version, description) VALUES (7, 'x')")
    later = open_stores(Settings(data_dir=tmp_path, database_url=postgres_url)).notifications
    with pytest.raises(ConfigError) as refused:
        await later.open()
    message = str(refused.value)
    assert "schema version 7, newer than this Grace understands (2)" in message
    assert "\n" not in message


async def test_a_url_whose_search_path_names_no_schema_is_refused(
    postgres_database: str, tmp_path: Path
) -> None:
    url = f"{postgres_database}?options=-csearch_path%3Dno_such_schema"
    log = open_stores(Settings(data_dir=tmp_path, database_url=url)).notifications
    with pytest.raises(ConfigError, match="search_path names none that exists"):
        await log.open()


async def test_an_unreachable_server_is_refused_without_its_password(tmp_path: Path) -> None:
    url = "postgres://grace:hunter2@127.0.0.1:1/grace"
    log = open_stores(Settings(data_dir=tmp_path, database_url=url)).notifications
    with pytest.raises(ConfigError) as refused:
        await log.open()
    assert "cannot connect to PostgreSQL at postgresql://grace:***@127.0.0.1:1/grace" in str(
        refused.value
    )
    assert "hunter2" not in str(refused.value)


def test_without_the_driver_a_postgresql_url_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "asyncpg", None)  # import asyncpg -> ImportError
    for url in ("postgresql://localhost/grace", "postgres://localhost/grace"):
        with pytest.raises(ConfigError, match=r"pip install 'grace-chat\[postgres\]'"):
            open_stores(Settings(data_dir=tmp_path, database_url=url))


def test_unknown_schemes_name_both_engines(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="supported: sqlite, postgresql"):
        open_stores(Settings(data_dir=tmp_path, database_url="mysql://localhost/grace"))


# -- the other stores across processes ----------------------------------------------------------


async def test_a_starting_process_interrupts_only_what_a_gone_process_left_running(
    postgres_url: str, tmp_path: Path
) -> None:
    """Tasks and missions belong to the process that runs them: a second process starting on
    the same database leaves the first one's alone, and takes over those of one that is gone."""
    settings = Settings(data_dir=tmp_path, database_url=postgres_url)
    first = open_stores(settings)
    await first.notifications.open()
    running = TaskRecord("live_job", "ann", "sync", state=TaskState.RUNNING, started_at=1.0)
    mission = Mission("m_live", "release", "ann", (Step("build"),))
    await first.tasks.save(running)
    await first.missions.save(mission)

    second = open_stores(settings)
    await second.notifications.open()
    try:
        assert await second.tasks.interrupt_active() == []
        assert await second.missions.interrupt_active() == []
        # a save from another process does not take the task over
        await second.tasks.save(running.with_(progress=0.5))
        await first.notifications.close()  # the first process is gone

        (task,) = await second.tasks.interrupt_active()
        assert (task.task_id, task.state) == ("live_job", TaskState.INTERRUPTED)
        (gone,) = await second.missions.interrupt_active()
        assert (gone.mission_id, gone.state) == ("m_live", MissionState.INTERRUPTED)
        stored = await second.tasks.get("live_job")
        assert stored is not None and stored.state is TaskState.INTERRUPTED
        assert stored.progress == 0.5
    finally:
        await second.notifications.close()


async def test_two_processes_deciding_one_approval_agree_on_one_winner(
    postgres_url: str, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, database_url=postgres_url)
    a, b = open_stores(settings), open_stores(settings)
    await a.notifications.open()
    await b.notifications.open()
    try:
        for i in range(20):
            await a.approvals.create(Approval(f"ap{i}", "ann", "deploy", "agent"))
        results = await asyncio.gather(
            *(
                store.approvals.decide(
                    Approval(f"ap{i}", "ann", "deploy", "agent").decide(state, by)
                )
                for i in range(20)
                for store, state, by in (
                    (a, ApprovalState.APPROVED, "ann"),
                    (b, ApprovalState.REJECTED, "bob"),
                )
            )
        )
        for i in range(20):
            pair = results[2 * i : 2 * i + 2]
            assert sorted(changed for _, changed in pair) == [False, True]
            assert pair[0][0] == pair[1][0]  # both see the winner's record
            assert pair[0][0].state is not ApprovalState.PENDING
    finally:
        await a.notifications.close()
        await b.notifications.close()


async def test_the_audit_log_refuses_update_delete_and_truncate(
    stores: Stores, postgres_url: str
) -> None:
    await stores.approvals.create(Approval("ap1", "ann", "deploy", "agent"))
    await stores.approvals.audit(
        AuditEntry(time.time(), "requested", "agent", "deploy", "agent", "ap1", {"v": 1})
    )
    for statement in (
        "UPDATE audit_log SET actor = 'mallory'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ):
        with pytest.raises(Exception, match="the audit log is append-only"):
            await sql(postgres_url, statement)
    (entry,) = await stores.approvals.read_audit("ann")
    assert (entry.actor, entry.params) == ("agent", {"v": 1})


# -- knowledge: the same answers as FTS5 ------------------------------------------------------

DEMO_SPEC = (
    Path(__file__).resolve().parent.parent / "src/grace_chat/demo_data/CRM_API_Spec.md"
).read_bytes()
QUERIES = [
    "requests per minute",
    "automatic rollback",
    "refunds prorated",
    "invoice generation",
    "canary zebra",
    'each "month" AND (',
    "customers endpoint",
    "rate limit",
    "authentication token",
    "429",
    "retry after",
    "the",
    "invisiblescripttoken",
    "*** ---",
]


async def test_postgresql_search_finds_what_fts5_finds_in_the_same_order(
    postgres_url: str, tmp_path: Path
) -> None:
    files = {
        "CRM_API_Spec.pdf": SPEC_PDF,
        "guide.md": GUIDE_MD,
        "faq.html": FAQ_HTML,
        "CRM_API_Spec.md": DEMO_SPEC,
    }
    engines = [
        open_stores(Settings(data_dir=tmp_path / "sqlite", sqlite_synchronous="NORMAL")),
        open_stores(Settings(data_dir=tmp_path, database_url=postgres_url)),
    ]
    for engine in engines:
        await engine.notifications.open()
        await engine.knowledge.open()
        for name, data in files.items():
            text = extract(name, data)
            passages = split_passages(text.text)
            await engine.knowledge.add(
                Document(
                    f"doc_{name}", "user", name, text.kind, "path", "-", len(data),
                    len(text.text), len(passages), 0.9,
                ),
                passages,
            )  # fmt: skip
    try:
        for query in QUERIES:
            fts5, postgres = [await e.knowledge.search(query, "user") for e in engines]
            assert [(h.name, h.ordinal) for h in postgres] == [(h.name, h.ordinal) for h in fts5], (
                query
            )
            for hit in postgres:
                assert "[" in hit.snippet and "]" in hit.snippet and hit.score > 0, hit
            assert await engines[1].knowledge.search(query, "someone-else") == []
        (hit,) = await engines[1].knowledge.search("automatic rollback", "user")
        assert "[automatic] [rollback]" in hit.snippet and hit.snippet.startswith("…")
    finally:
        for engine in engines:
            await engine.notifications.close()


# -- grace serve ----------------------------------------------------------------------------------

SECRET = "a-shared-signing-secret-of-32-characters-or-more"


@pytest.fixture
async def two_servers(postgres_url: str, tmp_path: Path) -> AsyncIterator[list[tuple[str, str]]]:
    """Two ``grace serve`` processes on one PostgreSQL database, with one data directory and
    one signing secret: ``(url, token)`` of each."""
    env = {**ENV, "GRACE_DATABASE_URL": postgres_url, "GRACE_SECRET": SECRET}
    procs = []
    try:
        for _ in range(2):
            proc = await asyncio.create_subprocess_exec(
                *GRACE, "serve", "--port", "0", "--data-dir", str(tmp_path / "data"),
                env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            procs.append(proc)
        servers = []
        for proc in procs:
            assert proc.stdout is not None
            lines: list[str] = []
            async with asyncio.timeout(30):
                while (found := RUNNING.search("\n".join(lines))) is None:
                    raw = await proc.stdout.readline()
                    if not raw:
                        assert proc.stderr is not None
                        err = (await proc.stderr.read()).decode()
                        raise AssertionError(f"grace serve ended: {lines} {err[-2000:]}")
                    lines.append(raw.decode())
            servers.append((found.group(1), found.group(3)))
        yield servers
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.terminate()
                try:
                    await asyncio.wait_for(proc.wait(), 15)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()


async def test_grace_serve_runs_on_postgresql_with_two_processes_on_one_database(
    two_servers: list[tuple[str, str]], postgres_url: str
) -> None:
    """No lock file refuses the second process (on SQLite it would: same data directory); a
    notification published on one arrives live on its WebSocket and is in the shared log that
    the other replays."""
    (first, _), (second, _) = two_servers
    tokens = TokenAuthority(SECRET, 3600)
    token = tokens.issue("pat")  # a user nothing else notifies (the guardian tells "user")
    admin = tokens.issue("backend", admin=True)
    headers = {"Authorization": f"Bearer {admin}"}

    async def frames(ws: Any, until: str) -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = []
        while not got or got[-1].get("type") != until:
            message = await asyncio.wait_for(ws.recv(), 10)
            got.extend(json.loads(line) for line in str(message).split("\n"))
        return got

    stream = "/api/notifications/stream"
    async with websockets.connect(first.replace("http", "ws") + stream) as ws:
        await ws.send(json.dumps({"type": "hello", "token": token, "since": 0}))
        await frames(ws, "synced")
        async with httpx.AsyncClient(base_url=first, timeout=10) as http:
            sent = await http.post(
                "/api/notifications/publish",
                json={"user_id": "pat", "type": "task_completed", "message": "Stored in PG"},
                headers=headers,
            )
        assert sent.status_code == 201, sent.text
        live = await frames(ws, "task_completed")
        assert live[-1]["message"] == "Stored in PG" and live[-1]["seq"] == 1

    async with websockets.connect(second.replace("http", "ws") + stream) as ws:
        await ws.send(json.dumps({"type": "hello", "token": token, "since": 0}))
        replay = await frames(ws, "synced")
        assert [(f["seq"], f["message"]) for f in replay if "seq" in f and "message" in f] == [
            (1, "Stored in PG")
        ]
    rows = await sql(postgres_url, "SELECT user_id, seq FROM entries WHERE user_id = 'pat'")
    assert [tuple(r) for r in rows] == [("pat", 1)]
