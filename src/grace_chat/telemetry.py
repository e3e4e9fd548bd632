"""The gauges of ``/metrics``, read from the systems when Prometheus scrapes.

``add_system_sources`` registers, on a ``Metrics``, what the composition root hands it: the hub
(open connections by transport, frames queued in their outboxes, frames delivered, slow consumers
cut off), the backplane (whether the broker is up, frames it filled from the log, dropped as
duplicates or could not relay), the task runner (this process's tasks by state), the approval
gateway (approvals pending), the learning supervisor (jobs waiting) and the guardian (open
incidents by severity). Nothing here runs between scrapes.

Per process: connections, outboxes, tasks and the backplane's figures are this process's; the
pending approvals and the learning queue are read from the shared database, so every process
reports the same figure (aggregate them with ``max``, not ``sum``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from grace_chat.approvals.gateway import ActionGateway
from grace_chat.approvals.model import ApprovalState
from grace_chat.guardian.component import Guardian
from grace_chat.hub.backplane import Backplane
from grace_chat.hub.hub import Hub
from grace_chat.learning.supervisor import LearningSupervisor
from grace_chat.metrics import Metrics
from grace_chat.tasks.model import TaskState
from grace_chat.tasks.runner import TaskRunner

TRANSPORTS = ("websocket", "sse")
#: The states a task is in while a process holds it.
ACTIVE_STATES = tuple(s.value for s in TaskState if not s.terminal)
#: Pending approvals counted at most (a scrape reads them from the database).
MAX_PENDING_COUNTED = 10_000


@runtime_checkable
class BrokerFigures(Protocol):
    """A shared backplane's own counts (the Redis one keeps them)."""

    up: bool
    filled: int
    duplicates: int
    unrelayed: int


def hub_metrics(hub: Hub) -> list[Metric]:
    connections = GaugeMetricFamily(
        "grace_connections", "Open streams in this process, by transport", labels=["transport"]
    )
    opened = CounterMetricFamily(
        "grace_connections_opened",
        "Streams admitted in this process since start, by transport",
        labels=["transport"],
    )
    counts = dict.fromkeys(TRANSPORTS, 0)
    queued = deepest = blocked = 0
    for box in hub.outboxes():
        counts[box.transport] = counts.get(box.transport, 0) + 1
        depth = len(box)
        queued += depth
        deepest = max(deepest, depth)
        blocked += box.blocked
    for transport, count in counts.items():
        connections.add_metric([transport], count)
    for transport in sorted(set(TRANSPORTS) | set(hub.attached)):
        opened.add_metric([transport], hub.attached.get(transport, 0))
    return [
        connections,
        opened,
        CounterMetricFamily(
            "grace_notifications_delivered",
            "Notification frames handed to open connections in this process (one per connection)",
            value=hub.delivered,
        ),
        CounterMetricFamily(
            "grace_slow_consumer_disconnects",
            "Connections closed because they let their outbox fill",
            value=hub.slow_consumers,
        ),
        GaugeMetricFamily(
            "grace_outbox_queued_frames",
            "Frames waiting in the outboxes of this process's connections",
            value=queued,
        ),
        GaugeMetricFamily(
            "grace_outbox_queued_frames_max",
            "Frames waiting in the fullest outbox of this process",
            value=deepest,
        ),
        GaugeMetricFamily(
            "grace_outbox_blocked_connections",
            "WebSocket connections whose socket buffer is full (frames wait for the client)",
            value=blocked,
        ),
    ]


def broker_metrics(figures: BrokerFigures) -> list[Metric]:
    return [
        GaugeMetricFamily(
            "grace_backplane_up", "1 while the broker subscription is live", value=int(figures.up)
        ),
        CounterMetricFamily(
            "grace_backplane_filled_frames",
            "Frames read from the log to fill a hole in what the broker relayed",
            value=figures.filled,
        ),
        CounterMetricFamily(
            "grace_backplane_duplicate_frames",
            "Frames dropped as already delivered",
            value=figures.duplicates,
        ),
        CounterMetricFamily(
            "grace_backplane_unrelayed_frames",
            "Frames this process could not relay while the broker was down",
            value=figures.unrelayed,
        ),
    ]


def task_metrics(runner: TaskRunner) -> list[Metric]:
    tasks = GaugeMetricFamily(
        "grace_tasks", "Background tasks this process holds, by state", labels=["state"]
    )
    counts = runner.live_states()
    for state in ACTIVE_STATES:
        tasks.add_metric([state], counts.get(state, 0))
    return [tasks]


def guardian_metrics(guardian: Guardian) -> list[Metric]:
    incidents = GaugeMetricFamily(
        "grace_guardian_incidents", "Open guardian incidents, by severity", labels=["severity"]
    )
    counts = {"warning": 0, "error": 0}
    for incident in guardian.incidents.values():
        counts[incident.severity] = counts.get(incident.severity, 0) + 1
    for severity, count in sorted(counts.items()):
        incidents.add_metric([severity], count)
    return [incidents]


def add_system_sources(
    metrics: Metrics,
    *,
    hub: Hub,
    backplane: Backplane,
    runner: TaskRunner,
    gateway: ActionGateway,
    learning: LearningSupervisor | None = None,
    guardian: Guardian | None = None,
) -> None:
    """Register the gauges of these parts on ``metrics`` (see the module's docstring)."""

    def connections() -> list[Metric]:
        return hub_metrics(hub)

    def tasks() -> list[Metric]:
        return task_metrics(runner)

    async def approvals() -> Iterable[Metric]:
        pending = await gateway.store.list_approvals(
            None, ApprovalState.PENDING, limit=MAX_PENDING_COUNTED
        )
        return [
            GaugeMetricFamily(
                "grace_approvals_pending",
                "Approvals waiting for a decision (all users; read from the database)",
                value=len(pending),
            )
        ]

    metrics.add_source(connections)
    metrics.add_source(tasks)
    metrics.add_async_source(approvals)
    if isinstance(backplane, BrokerFigures):
        figures = backplane

        def broker() -> list[Metric]:
            return broker_metrics(figures)

        metrics.add_source(broker)
    if learning is not None:
        jobs = learning.store

        async def learning_queue() -> Iterable[Metric]:
            return [
                GaugeMetricFamily(
                    "grace_learning_queue_jobs",
                    "Learning jobs waiting to run (all users; read from the database)",
                    value=await jobs.count_waiting(),
                )
            ]

        metrics.add_async_source(learning_queue)
    if guardian is not None:
        watched = guardian

        def incidents() -> list[Metric]:
            return guardian_metrics(watched)

        metrics.add_source(incidents)
