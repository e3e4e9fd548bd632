"""``GET /metrics`` scraped during a real run: a server on loopback, real WebSocket and SSE
clients, the figures parsed with ``prometheus_client``'s own parser and checked to move by
exactly what happened between two scrapes."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from grace_chat.app import Grace
from grace_chat.config import Settings
from grace_chat.hub.backplane import LocalBackplane
from grace_chat.hub.hub import Hub
from grace_chat.metrics import Metrics
from grace_chat.store.engines import open_stores
from grace_chat.tasks.context import TaskContext
from grace_chat.tasks.types import TaskSpec
from grace_chat.telemetry import hub_metrics
from tests.support import Client, Running, error_body, serve, until
from tests.support.sse import sse

pytestmark = pytest.mark.engines

PUBLISH = "/api/notifications/publish"
Figures = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Figures:
    figures: Figures = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            figures[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return figures


def value(figures: Figures, name: str, **labels: str) -> float:
    return figures.get((name, tuple(sorted(labels.items()))), 0.0)


async def scrape(srv: Running, headers: dict[str, str] | None = None) -> Figures:
    async with srv.http() as http:
        response = await http.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


async def publish(srv: Running, user: str, count: int) -> None:
    async with srv.http() as http:
        for i in range(count):
            body = {"user_id": user, "type": "test", "message": f"note {i}"}
            response = await http.post(PUBLISH, json=body, headers=srv.auth("ops", admin=True))
            assert response.status_code == 201, response.text


async def test_counters_move_by_what_happened(settings: Settings) -> None:
    async with (
        serve(settings.with_(command_rate=0.1, command_burst=4)) as srv,
        Client.connect(srv, "ann") as one,
        Client.connect(srv, "ann") as two,
        sse(srv, "ann") as stream,
    ):
        await one.welcome()
        await two.welcome()
        await stream.until_synced()
        before = await scrape(srv)
        assert value(before, "grace_connections", transport="websocket") == 2
        assert value(before, "grace_connections", transport="sse") == 1

        n = 7
        await publish(srv, "ann", n)
        assert len(await one.notifications(n)) == n
        assert len(await two.notifications(n)) == n
        for _ in range(n):
            assert "seq" in (await stream.next()).data

        pongs = limited = 0
        for _ in range(6):  # a burst of 4 on this connection: 4 answered, 2 refused
            reply = await one.command({"type": "ping"})
            if reply["type"] == "pong":
                pongs += 1
            else:
                assert reply["code"] == "rate_limited"
                limited += 1
        assert (pongs, limited) == (4, 2)
        after = await scrape(srv)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("grace_notifications_appended_total") == n
    assert moved("grace_notifications_delivered_total") == n * 3  # three open connections
    assert moved("grace_commands_total", type="ping", result="ok") == pongs
    assert moved("grace_rate_limited_total", limit="connection_commands") == limited
    assert moved("grace_store_commit_batch_entries_sum") == n
    assert 1 <= moved("grace_store_commit_seconds_count") <= n
    assert moved("grace_fanout_seconds_count") == moved("grace_store_commit_seconds_count")
    assert moved("grace_flush_seconds_count") >= 1
    assert value(after, "grace_connections_opened_total", transport="websocket") == 2
    assert value(after, "grace_connections_opened_total", transport="sse") == 1
    # the gauges read from the systems at scrape time are there, and say nothing is going on
    assert value(after, "grace_approvals_pending") == 0
    assert value(after, "grace_learning_queue_jobs") == 0
    assert value(after, "grace_tasks", state="running") == 0
    assert value(after, "grace_outbox_queued_frames") == 0
    assert value(after, "grace_slow_consumer_disconnects_total") == 0
    assert not any(name == "grace_metrics_source_errors_total" for name, _ in after)


async def test_a_resumed_connection_counts_its_replay(settings: Settings) -> None:
    async with serve(settings) as srv:
        await publish(srv, "bob", 5)
        before = await scrape(srv)
        async with Client.connect(srv, "bob", since=2) as bob:
            _, replay, _ = await bob.welcome()
        assert len(replay) == 3
        after = await scrape(srv)
    assert value(after, "grace_replay_frames_count") - value(before, "grace_replay_frames_count")
    assert value(after, "grace_replay_frames_sum") - value(before, "grace_replay_frames_sum") == 3


@pytest.mark.sqlite_only
async def test_a_command_that_fails_is_counted_by_its_error_code(settings: Settings) -> None:
    async with serve(settings) as srv, Client.connect(srv, "ann") as ann:
        await ann.welcome()
        before = await scrape(srv)
        reply = await ann.command({"type": "cancel_task", "task_id": "no-such-task"})
        assert reply["type"] == "error"
        after = await scrape(srv)
    labels = {"type": "cancel_task", "result": reply["code"]}
    assert (
        value(after, "grace_commands_total", **labels)
        - value(before, "grace_commands_total", **labels)
        == 1
    )


@pytest.mark.sqlite_only
async def test_only_an_admin_token_or_an_allowed_address_reads_the_metrics(
    settings: Settings,
) -> None:
    # loopback (the default allow-list) reads without a token
    async with serve(settings) as srv:
        await scrape(srv)
    # from an address outside the allow-list: an admin token, nothing less
    async with serve(settings.with_(metrics_allow=("10.0.0.0/8",))) as srv, srv.http() as http:
        error_body(await http.get("/metrics"), 403, "forbidden")
        error_body(await http.get("/metrics", headers=srv.auth("ann")), 403, "forbidden")
        bad = {"Authorization": "Bearer not-a-token"}
        error_body(await http.get("/metrics", headers=bad), 401, "unauthenticated")
        figures = await scrape(srv, srv.auth("root", admin=True))
        assert ("grace_notifications_appended_total", ()) in figures


@pytest.mark.sqlite_only
async def test_two_graces_in_one_process_keep_their_own_figures(tmp_path: Path) -> None:
    one = Grace(Settings(data_dir=tmp_path / "one"), systems=False)
    two = Grace(Settings(data_dir=tmp_path / "two"), systems=False)
    async with one, two:
        await one.notify_user("ann", "test", "for the first only")
        await one.notify_user("ann", "test", "and again")
        first, second = await asyncio.gather(one.metrics.render(), two.metrics.render())
    assert value(parse(first.decode()), "grace_notifications_appended_total") == 2
    assert value(parse(second.decode()), "grace_notifications_appended_total") == 0


class _BrokerFigures(LocalBackplane):
    """An in-process backplane with a shared one's figures (what the Redis backplane keeps)."""

    up = True
    filled = duplicates = unrelayed = 0


@pytest.mark.sqlite_only
async def test_every_metric_is_documented_and_on_the_dashboard(settings: Settings) -> None:
    docs = Path(__file__).parent.parent / "docs"
    grace = Grace(settings, backplane=_BrokerFigures)
    async with grace:
        exposed = {
            family.name
            for family in text_string_to_metric_families((await grace.metrics.render()).decode())
            if family.name.startswith("grace_") and not family.name.endswith("_created")
        }
    # the scrape's errors are a family only once a source failed
    exposed.add("grace_metrics_source_errors")
    written = (docs / "observability.md").read_text()
    documented = {
        re.sub(r"_total$", "", name)
        for name in re.findall(r"`(grace_[a-z_]+)(?:\{[a-z_, ]*\})?`", written)
    }
    assert exposed == documented
    dashboard = json.loads((docs / "grafana-dashboard.json").read_text())
    charted = {
        re.sub(r"_(total|bucket|sum|count)$", "", name)
        for panel in dashboard["panels"]
        for target in panel.get("targets", ())
        for name in re.findall(r"\b(grace_[a-z_]+)", target["expr"])
    }
    assert charted <= exposed
    assert exposed - charted == {"grace_metrics_source_errors"}


async def test_two_servers_on_postgres_and_redis_count_each_their_own(
    tmp_path: Path, postgres_url: str, redis_url: str, redis_prefix: str
) -> None:
    """Two servers (as two processes would be) on one PostgreSQL schema and one Redis: the
    publisher's server counts the appends, the one holding the connection the deliveries."""

    def settings(name: str) -> Settings:
        return Settings(
            data_dir=tmp_path / name,
            database_url=postgres_url,
            redis_url=redis_url,
            redis_prefix=redis_prefix,
            secret="s" * 40,
        )

    one, two = settings("one"), settings("two")
    async with (
        serve(one, Grace(one, systems=False)) as first,
        serve(two, Grace(two, systems=False)) as second,
        Client.connect(second, "ann") as ann,
    ):
        await ann.welcome()
        before = [await scrape(first), await scrape(second)]
        n = 5
        await publish(first, "ann", n)
        assert len(await ann.notifications(n)) == n
        after = [await scrape(first), await scrape(second)]

    def moved(i: int, name: str) -> float:
        return value(after[i], name) - value(before[i], name)

    assert (
        moved(0, "grace_notifications_appended_total"),
        moved(1, "grace_notifications_appended_total"),
    ) == (n, 0)
    assert (
        moved(0, "grace_notifications_delivered_total"),
        moved(1, "grace_notifications_delivered_total"),
    ) == (0, n)
    assert value(after[0], "grace_backplane_up") == value(after[1], "grace_backplane_up") == 1
    assert value(after[1], "grace_connections", transport="websocket") == 1
    assert value(after[0], "grace_connections", transport="websocket") == 0


@pytest.mark.sqlite_only
async def test_the_systems_gauges_follow_tasks_and_approvals(settings: Settings) -> None:
    release = asyncio.Event()

    async def hold(ctx: TaskContext) -> None:
        await release.wait()

    grace = Grace(settings)
    grace.tasks.types.add(TaskSpec("hold", fn=hold))
    async with serve(settings, grace) as srv:
        task_id = await grace.start_background_task("hold", "ann")
        await grace.action_gateway.request_action("deploy_service", "mission_control")
        await until(lambda: grace.tasks.live_states().get("running") == 1, what="task running")
        busy = await scrape(srv)
        release.set()
        await grace.tasks.wait(task_id, timeout=10)
        idle = await scrape(srv)
    assert value(busy, "grace_tasks", state="running") == 1
    assert value(busy, "grace_approvals_pending") == 1
    assert value(idle, "grace_tasks", state="running") == 0


@pytest.mark.sqlite_only
async def test_a_body_refused_by_the_limits_is_counted(settings: Settings) -> None:
    async with serve(settings.with_(max_body_bytes=64)) as srv, srv.http() as http:
        before = await scrape(srv)
        body = {"user_id": "ann", "type": "test", "message": "x" * 200}
        error_body(await http.post(PUBLISH, json=body), 401, "unauthenticated")
        admin = srv.auth("ops", admin=True)
        error_body(await http.post(PUBLISH, json=body, headers=admin), 413, "too_large")
        after = await scrape(srv)
    for reason in ("unauthenticated", "too_large"):
        labels = {"reason": reason}
        assert (
            value(after, "grace_requests_refused_total", **labels)
            - value(before, "grace_requests_refused_total", **labels)
            == 1
        )


def test_a_slow_consumer_is_counted_once_and_its_frames_no_longer() -> None:
    hub = Hub()
    closed: list[bool] = []
    slow = hub.outbox(2, lambda: closed.append(True))
    fine = hub.outbox(100, lambda: None, transport="sse")
    hub.attach("ann", slow)
    hub.attach("ann", fine)
    for seq in range(1, 5):
        hub.deliver("ann", seq, b"{}")
    assert closed == [True] and hub.slow_consumers == 1
    # 4 frames to the one that keeps up, 2 to the slow one before it overflowed
    assert hub.delivered == 6
    figures = {m.name: m for m in hub_metrics(hub)}
    assert figures["grace_connections"].samples[1].value == 1  # sse
    assert figures["grace_outbox_queued_frames"].samples[0].value == 4


@pytest.mark.sqlite_only
async def test_stores_opened_for_the_application_s_metrics_count_its_commits(
    settings: Settings,
) -> None:
    metrics = Metrics()
    grace = Grace(settings, stores=open_stores(settings, metrics), metrics=metrics, systems=False)
    async with grace:
        await grace.notify_user("ann", "test", "counted")
        text = (await grace.metrics.render()).decode()
    assert grace.metrics is metrics
    assert value(parse(text), "grace_notifications_appended_total") == 1
