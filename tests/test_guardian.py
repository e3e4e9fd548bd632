"""The guardian: health checks that fail and recover, real host metrics against thresholds,
one report per incident, and findings over REST and status."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from grace_chat.app import Grace
from grace_chat.config import Settings
from grace_chat.errors import ConfigError
from grace_chat.guardian import Guardian, GuardianConfig
from tests.support import Client, Frame, Running, serve, until


@asynccontextmanager
async def guardian_server(
    settings: Settings, **guardian: Any
) -> AsyncIterator[tuple[Running, Guardian]]:
    settings = settings.with_(file={**settings.file, "guardian": guardian})
    grace = Grace(settings, systems={"guardian"})
    component = grace.guardian
    assert component is not None and grace.components == [component]
    async with serve(settings, grace) as srv:
        yield srv, component


class Feed:
    """A user's notifications in order: those replayed on connect (the guardian's first round
    runs as the server starts, maybe before the client is there), then live ones."""

    def __init__(self, client: Client, replay: list[Frame]) -> None:
        self.client = client
        self.pending = list(replay)

    @classmethod
    async def of(cls, client: Client) -> Feed:
        _, replay, _ = await client.welcome()
        return cls(client, replay)

    async def next(self) -> Frame:
        if self.pending:
            return self.pending.pop(0)
        (frame,) = await self.client.notifications(1)
        return frame

    def nothing_more(self) -> bool:
        return not self.pending and not [f for f in self.client.buffer if "seq" in f]


class TinyHTTP:
    """A loopback HTTP server whose answer status the test sets."""

    def __init__(self) -> None:
        self.status = 200
        self.server: asyncio.Server | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            f"HTTP/1.1 {self.status} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok".encode()
        )
        await writer.drain()
        writer.close()

    async def start(self) -> int:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        port: int = self.server.sockets[0].getsockname()[1]
        return port


async def open_port(port: int = 0) -> asyncio.Server:
    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    return await asyncio.start_server(accept, "127.0.0.1", port, reuse_address=True)


async def test_a_tcp_check_reports_once_per_outage_and_when_it_recovers(
    settings: Settings,
) -> None:
    listener = await open_port()
    port = listener.sockets[0].getsockname()[1]
    checks = [{"name": "db", "tcp": f"127.0.0.1:{port}", "timeout": 1}]
    async with (
        guardian_server(settings, interval=0.02, metrics=[], checks=checks) as (srv, guardian),
        Client.connect(srv, "user", since=0) as c,
    ):
        feed = await Feed.of(c)
        await until(lambda: guardian.rounds >= 3, what="healthy rounds")
        assert guardian.incidents == {}

        listener.close()
        await listener.wait_closed()
        down = await feed.next()
        assert down["type"] == "error_detected" and down["badge"] == "❌"
        assert down["severity"] == "error"
        assert down["message"] == "Health check db failed: connection refused"
        assert down["data"]["check"] == "db"
        rounds = guardian.rounds
        await until(lambda: guardian.rounds >= rounds + 10, what="ten more failing rounds")
        assert list(guardian.incidents) == ["db"]

        listener = await open_port(port)
        try:
            up = await feed.next()
        finally:
            listener.close()
        assert up["type"] == "issue_resolved" and up["badge"] == "✅"
        assert up["message"] == "Health check db is passing again"
        reply = await c.command({"type": "ping"})
        assert reply["type"] == "pong"
        assert feed.nothing_more()  # nothing else was sent
        actions = [h["action"] for h in guardian.findings()["history"]]
        assert actions == ["issue_resolved", "error_detected"]


async def test_an_http_check_against_a_local_server(settings: Settings) -> None:
    web = TinyHTTP()
    port = await web.start()
    refused = await open_port()
    refused_port = refused.sockets[0].getsockname()[1]
    refused.close()
    await refused.wait_closed()
    checks = [
        {"name": "api", "url": f"http://127.0.0.1:{port}/health", "timeout": 2},
        {
            "name": "admin",
            "url": f"http://127.0.0.1:{refused_port}/",
            "timeout": 2,
            "severity": "warning",
        },
    ]
    async with (
        guardian_server(settings, interval=3600, metrics=[], checks=checks) as (srv, guardian),
        Client.connect(srv, "user", since=0) as c,
    ):
        feed = await Feed.of(c)
        admin_down = await feed.next()  # found by the first round, at start
        assert admin_down["message"] == "Health check admin failed: connection refused"
        assert admin_down["badge"] == "⚠️" and admin_down["severity"] == "warning"

        web.status = 503
        await guardian.check_now()
        await guardian.check_now()
        api_down = await feed.next()
        assert api_down["message"] == "Health check api failed: HTTP 503"
        assert api_down["badge"] == "❌"

        async with srv.http() as http:
            found = (await http.get("/api/guardian", headers=srv.auth("user"))).json()
            assert (await http.get("/api/guardian")).status_code == 401
        assert {i["check"] for i in found["incidents"]} == {"api", "admin"}
        by_name = {ch["name"]: ch for ch in found["checks"]}
        assert by_name["api"]["ok"] is False and by_name["api"]["reason"] == "HTTP 503"
        assert by_name["api"]["target"] == f"http://127.0.0.1:{port}/health"

        web.status = 204
        await guardian.check_now()
        api_up = await feed.next()
        assert api_up["type"] == "issue_resolved"
        assert api_up["message"] == "Health check api is passing again"
        status = await c.command({"type": "status"})
        assert (
            "Guardian has 1 open issue: Health check admin failed: connection refused."
            in status["summary"]
        )
    assert web.server is not None
    web.server.close()


async def test_memory_above_its_threshold_is_reported_once(settings: Settings) -> None:
    async with (
        guardian_server(
            settings, interval=3600, metrics=["memory"], memory_warning=1, memory_error=100
        ) as (srv, guardian),
        Client.connect(srv, "user", since=0) as c,
    ):
        feed = await Feed.of(c)
        for _ in range(3):
            await guardian.check_now()
        high = await feed.next()
        assert high["type"] == "error_detected" and high["badge"] == "⚠️"
        assert re.fullmatch(r"High memory usage detected \(\d+%\)", high["message"])
        assert high["data"]["check"] == "memory" and high["data"]["threshold"] == 1.0
        assert guardian.metrics is not None
        assert 0 < guardian.metrics.memory_percent < 100

        status = await c.command({"type": "status"})
        assert "Guardian has 1 open issue: High memory usage detected" in status["summary"]
        assert status["guardian"]["incidents"][0]["check"] == "memory"
        assert feed.nothing_more()  # still only the one report

        guardian.config = dataclasses.replace(
            guardian.config, memory_warning=99.9, memory_error=100.0
        )
        await guardian.check_now()
        normal = await feed.next()
        assert re.fullmatch(r"Memory usage back to normal \(\d+%\)", normal["message"])
        assert normal["badge"] == "✅" and guardian.incidents == {}
        status = await c.command({"type": "status"})
        assert "Guardian sees no problems." in status["summary"]


async def test_a_warning_that_becomes_an_error_is_reported_again_once(
    settings: Settings,
) -> None:
    async with guardian_server(
        settings, interval=3600, metrics=["disk"], disk_warning=0.001, disk_error=100
    ) as (_, guardian):
        found = await guardian.check_now()
        (incident,) = found["incidents"]
        assert incident["severity"] == "warning"
        assert incident["message"].startswith("High disk usage detected (")
        guardian.config = dataclasses.replace(guardian.config, disk_error=0.002)
        await guardian.check_now()
        await guardian.check_now()
        history = guardian.findings()["history"]
        assert [(h["action"], h["severity"]) for h in history] == [
            ("error_detected", "error"),
            ("error_detected", "warning"),
        ]


def test_real_metrics_are_sampled() -> None:
    from grace_chat.guardian.probes import sample_metrics

    m = sample_metrics(".")
    assert 0 < m.memory_percent < 100 and 0 < m.disk_percent <= 100 and m.load_per_core >= 0


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ({"interval": 0}, "interval must be a positive number"),
        ({"memory_warning": 90, "memory_error": 80}, "memory_warning must not exceed"),
        ({"notify": "user"}, "notify must be a list"),
        ({"metrics": ["gpu"]}, "metrics must be a list"),
        ({"checks": [{"name": "x"}]}, "needs exactly one of url"),
        ({"checks": [{"name": "x", "tcp": "nohost"}]}, 'tcp must be "host:port"'),
        ({"checks": [{"name": "x", "url": "ftp://a"}]}, "url must start with http"),
        ({"checks": [{"name": "x", "tcp": "a:1"}, {"name": "x", "tcp": "a:2"}]}, "unique"),
        ({"checks": [{"name": "x", "tcp": "a:1", "severity": "fatal"}]}, "severity must be"),
        ({"thresholds": 1}, "unknown keys: thresholds"),
    ],
)
def test_bad_guardian_config_is_refused(section: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(problem)):
        GuardianConfig.from_section(section, disk_path=".", default_user="user")


def test_guardian_config_defaults_and_parsing() -> None:
    config = GuardianConfig.from_section(
        {"notify": ["ops", "user"], "checks": [{"name": "db", "tcp": "[::1]:5432"}]},
        disk_path="/data",
        default_user="user",
    )
    assert config.notify == ("ops", "user") and config.disk_path == "/data"
    (check,) = config.checks
    assert (check.host, check.port, check.timeout, check.severity) == ("::1", 5432, 5.0, "error")
    assert GuardianConfig.from_section({}, disk_path=".", default_user="me").notify == ("me",)
