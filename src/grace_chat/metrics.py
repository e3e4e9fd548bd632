"""Prometheus metrics of one Grace: counters and histograms the hot paths update, and gauges read
from the systems when ``/metrics`` is scraped.

``Metrics`` owns its ``CollectorRegistry``: every ``Grace`` makes its own, so two applications in
one process never mix their figures, and nothing is registered in ``prometheus_client``'s global
registry. The composition root hands it to the parts it instruments (the group commit of the
notification log, the hub, the command router, the stream connections); a part given none counts
nothing.

Guarantees:

* The hot paths pay one counter increment or one histogram observation per *batch*: per
  committed transaction (appended entries, batch size, commit and fan-out latency), per turn of
  the event loop (flush latency), per greeting (replay size); frames delivered to connections are
  a plain integer the hub adds to, read at scrape time.
* Gauges (open connections, queued frames, tasks by state, pending approvals, the learning
  queue, guardian incidents) are never updated as things change: each ``Source`` registered with
  ``add_source`` is read when the metrics are scraped. ``refresh`` awaits the sources that need
  I/O (a count in the database) before the registry is rendered; a source that fails or takes
  longer than ``SOURCE_TIMEOUT`` is left out of that scrape and counted in
  ``grace_metrics_source_errors_total``, never failing the scrape.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.metrics_core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger("grace_chat.metrics")

#: Seconds a scrape waits for one source that reads the database.
SOURCE_TIMEOUT = 2.0

#: Latency buckets, in seconds: a commit or a fan-out takes from tens of microseconds (memory)
#: to a second (a stalled disk, a remote database).
LATENCY_BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
)
#: Entries (notification × recipient) per committed transaction; the most is 8,192.
BATCH_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 8192)
#: Frames sent in one replay (the greeting of a connection that resumes).
REPLAY_BUCKETS = (0, 1, 10, 50, 100, 500, 1000, 5000, 10_000)

#: A source: returns the metric families it reads, at scrape time.
Source = Callable[[], Iterable[Metric]]
#: A source that has to wait for something (a database count) first.
AsyncSource = Callable[[], Awaitable[Iterable[Metric]]]


class _Sources(Collector):
    """The registry's view of the sources: the synchronous ones read now, the asynchronous ones
    as the last ``refresh`` left them."""

    def __init__(self) -> None:
        self.sync: list[Source] = []
        self.fetched: list[Metric] = []
        self.errors: dict[str, int] = {}

    def collect(self) -> Iterable[Metric]:
        for source in self.sync:
            try:
                yield from source()
            except Exception:
                log.exception("reading metrics from %s failed", _name(source))
                self.errors[_name(source)] = self.errors.get(_name(source), 0) + 1
        yield from self.fetched
        errors = _counter(
            "grace_metrics_source_errors",
            "Scrapes in which a metrics source failed or timed out, by source",
            ["source"],
        )
        for name, count in sorted(self.errors.items()):
            errors.add_metric([name], count)
        yield errors


def _name(source: object) -> str:
    return str(getattr(source, "__name__", type(source).__name__))


def _counter(name: str, documentation: str, labels: Sequence[str] = ()) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, labels=labels)


class Metrics:
    """The metrics of one Grace (see the module's docstring)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.appended = Counter(
            "grace_notifications_appended",
            "Entries appended to users' notification logs (a notification for 3 users counts 3)",
            registry=r,
        )
        self.commit_batch = Histogram(
            "grace_store_commit_batch_entries",
            "Entries written per group-commit transaction of the notification log",
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.commit_seconds = Histogram(
            "grace_store_commit_seconds",
            "Time to write one group-commit transaction of the notification log",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.commit_failures = Counter(
            "grace_store_commit_failures",
            "Group-commit transactions that failed (their callers got the error)",
            registry=r,
        )
        self.fanout_seconds = Histogram(
            "grace_fanout_seconds",
            "Time to hand one committed transaction's frames to the backplane and the hub",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.flush_seconds = Histogram(
            "grace_flush_seconds",
            "Time to write the frames of one event-loop turn to the WebSocket connections",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.replay_frames = Histogram(
            "grace_replay_frames",
            "Notification frames replayed to a connection that resumed (0: nothing missed)",
            buckets=REPLAY_BUCKETS,
            registry=r,
        )
        self.commands = Counter(
            "grace_commands",
            "Commands served, by command type and result (ok, or the error code)",
            ["type", "result"],
            registry=r,
        )
        self.rate_limited = Counter(
            "grace_rate_limited",
            "Answers rate_limited, by limit (connection or user command budget, connections "
            "per user)",
            ["limit"],
            registry=r,
        )
        self.refused = Counter(
            "grace_requests_refused",
            "HTTP requests refused before their body was read, by reason",
            ["reason"],
            registry=r,
        )
        self._command_children: dict[tuple[str, str], Counter] = {}
        self._sources = _Sources()
        self._async: list[AsyncSource] = []
        r.register(self._sources)
        ProcessCollector(registry=r)  # process_cpu_seconds_total, process_resident_memory_bytes

    # -- what the instrumented parts call -----------------------------------------------------

    def committed(self, entries: int, write_seconds: float, fanout_seconds: float) -> None:
        """One group-commit transaction: ``entries`` appended, written in ``write_seconds``,
        fanned out in ``fanout_seconds``."""
        self.appended.inc(entries)
        self.commit_batch.observe(entries)
        self.commit_seconds.observe(write_seconds)
        self.fanout_seconds.observe(fanout_seconds)

    def commit_failed(self) -> None:
        self.commit_failures.inc()

    def flushed(self, seconds: float) -> None:
        self.flush_seconds.observe(seconds)

    def replayed(self, frames: int) -> None:
        self.replay_frames.observe(frames)

    def command(self, command_type: str, result: str) -> None:
        key = (command_type, result)
        child = self._command_children.get(key)
        if child is None:  # the labels' lookup, once per pair (types and codes are few)
            child = self._command_children[key] = self.commands.labels(command_type, result)
        child.inc()

    def limited(self, limit: str) -> None:
        self.rate_limited.labels(limit).inc()

    def refusal(self, reason: str) -> None:
        self.refused.labels(reason).inc()

    # -- gauges read at scrape time -----------------------------------------------------------

    def add_source(self, source: Source) -> None:
        """``source`` is called on every scrape, on the event loop: it must not block."""
        self._sources.sync.append(source)

    def add_async_source(self, source: AsyncSource) -> None:
        """``source`` is awaited by ``refresh`` (at most ``SOURCE_TIMEOUT`` seconds)."""
        self._async.append(source)

    async def refresh(self) -> None:
        """Read the asynchronous sources, for the next ``render``."""

        async def read(source: AsyncSource) -> list[Metric]:
            try:
                async with asyncio.timeout(SOURCE_TIMEOUT):
                    return list(await source())
            except Exception as exc:
                name = _name(source)
                log.warning("reading metrics from %s failed: %s", name, type(exc).__name__)
                self._sources.errors[name] = self._sources.errors.get(name, 0) + 1
                return []

        results = await asyncio.gather(*(read(s) for s in self._async))
        self._sources.fetched = [m for found in results for m in found]

    async def render(self) -> bytes:
        """The Prometheus text exposition of every metric, the sources read now."""
        await self.refresh()
        return generate_latest(self.registry)


def elapsed(start: float) -> float:
    """Seconds since ``start`` (a ``time.perf_counter()``)."""
    return time.perf_counter() - start
