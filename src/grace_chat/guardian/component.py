"""The guardian: watches host metrics and registered health checks, reports problems once.

Guarantees:

* Every ``interval`` seconds (and on ``await guardian.check_now()``) it samples memory, disk and
  CPU load (psutil) and runs every ``[[guardian.checks]]`` probe, concurrently; checks never
  overlap one another.
* A crossing opens an incident and reports ``error_detected`` once (⚠️ warning / ❌ error by
  severity), e.g. "High memory usage detected (93%)", "Health check api failed: connection
  refused". While the incident stays open nothing more is sent, except once if it escalates from
  warning to error. When it clears (the metric is below its warning threshold, the check passes
  again) it reports ``issue_resolved`` ✅ ("Memory usage back to normal (61%)") and closes.
* The reports are ``AGENT_ACTION`` events from source ``guardian`` with ``check`` (``memory``,
  ``disk``, ``cpu`` or the check's name), so self-heal playbooks can bind to them; they go to the
  ``notify`` users.
* Findings are queryable: open incidents, the latest sample and check results, and recent history
  (``GET /api/guardian``, the ``guardian`` status). They are kept in memory: after a restart an
  incident that is still there is reported again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from grace_chat.auth import Identity
from grace_chat.events import Event, EventBus, EventType
from grace_chat.guardian.config import GuardianConfig, HealthCheck
from grace_chat.guardian.probes import (
    CheckResult,
    Metrics,
    check_http,
    check_tcp,
    disk_default,
    sample_metrics,
    timed,
)
from grace_chat.notifications.model import iso_utc_ts

log = logging.getLogger("grace_chat.guardian")
SOURCE = "guardian"


@dataclass(frozen=True, slots=True)
class Incident:
    key: str
    severity: str
    message: str
    opened_at: float = field(default_factory=time.time)
    value: float | None = None

    def info(self) -> dict[str, Any]:
        return {
            "check": self.key,
            "severity": self.severity,
            "message": self.message,
            "opened_at": iso_utc_ts(self.opened_at),
            "value": self.value,
        }


@dataclass(frozen=True, slots=True)
class Reading:
    """One thing the guardian looked at: which level it is at now, and what to say."""

    key: str
    level: str | None  # None, "warning", "error"
    problem: str
    recovery: str
    value: float | None = None
    threshold: float | None = None


def _level(value: float, warning: float, error: float) -> str | None:
    if value >= error:
        return "error"
    if value >= warning:
        return "warning"
    return None


class Guardian:
    name = "guardian"

    def __init__(self, config: GuardianConfig, bus: EventBus) -> None:
        self.config = config
        self.bus = bus
        self.incidents: dict[str, Incident] = {}
        self.history: deque[dict[str, Any]] = deque(maxlen=config.history)
        self.metrics: Metrics | None = None
        self.results: dict[str, CheckResult] = {}
        self.checked_at: float | None = None
        self.rounds = 0
        self._lock = asyncio.Lock()
        self._loop: asyncio.Task[None] | None = None
        self._http: httpx.AsyncClient | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        self._http = httpx.AsyncClient(trust_env=False, follow_redirects=False)
        self._loop = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
            self._loop = None
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def _run(self) -> None:
        while True:
            try:
                await self.check_now()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("guardian check failed")
            await asyncio.sleep(self.config.interval)

    # -- checking -----------------------------------------------------------------------------

    async def check_now(self) -> dict[str, Any]:
        """Sample and probe everything once, report what changed; returns ``findings()``."""
        async with self._lock:
            readings: list[Reading] = []
            if self.config.metrics:
                self.metrics = await asyncio.to_thread(
                    sample_metrics, disk_default(self.config.disk_path)
                )
                readings.extend(self._metric_readings(self.metrics))
            results = await asyncio.gather(*(self._probe(c) for c in self.config.checks))
            for check, result in zip(self.config.checks, results, strict=True):
                self.results[check.name] = result
                readings.append(
                    Reading(
                        check.name,
                        None if result.ok else check.severity,
                        f"Health check {check.name} failed: {result.reason}",
                        f"Health check {check.name} is passing again",
                    )
                )
            for reading in readings:
                await self._apply(reading)
            self.checked_at = time.time()
            self.rounds += 1
        return self.findings()

    def _metric_readings(self, m: Metrics) -> list[Reading]:
        c = self.config
        # metric: (value, shown, warning, error, what the alert adds)
        table = {
            "memory": (m.memory_percent, f"{m.memory_percent:.0f}%", c.memory_warning,
                       c.memory_error, ""),
            "disk": (m.disk_percent, f"{m.disk_percent:.0f}%", c.disk_warning, c.disk_error,
                     f" of {c.disk_path}"),
            "cpu": (m.load_per_core, f"{m.load_per_core:.2f} per core", c.load_warning,
                    c.load_error, ""),
        }  # fmt: skip
        names = {"memory": ("memory usage", "Memory usage"), "disk": ("disk usage", "Disk usage"),
                 "cpu": ("CPU load", "CPU load")}  # fmt: skip
        readings = []
        for metric in c.metrics:
            value, shown, warning, error, where = table[metric]
            low, title = names[metric]
            readings.append(
                Reading(
                    metric,
                    _level(value, warning, error),
                    f"High {low} detected ({shown}{where})",
                    f"{title} back to normal ({shown})",
                    value,
                    warning,
                )
            )
        return readings

    async def _probe(self, check: HealthCheck) -> CheckResult:
        if check.url is not None:
            assert self._http is not None, "the guardian is not started"
            return await timed(
                check_http(self._http, check.url, check.timeout, check.expect_status)
            )
        assert check.host is not None and check.port is not None
        return await timed(check_tcp(check.host, check.port, check.timeout))

    async def _apply(self, reading: Reading) -> None:
        open_incident = self.incidents.get(reading.key)
        if reading.level is None:
            if open_incident is not None:
                del self.incidents[reading.key]
                await self._report(
                    "issue_resolved",
                    reading,
                    reading.recovery,
                    "success",
                    duration_seconds=round(time.time() - open_incident.opened_at, 3),
                )
            return
        if open_incident is None:
            self.incidents[reading.key] = Incident(
                reading.key, reading.level, reading.problem, value=reading.value
            )
            await self._report("error_detected", reading, reading.problem, reading.level)
        elif open_incident.severity == "warning" and reading.level == "error":
            self.incidents[reading.key] = replace(
                open_incident, severity="error", message=reading.problem, value=reading.value
            )
            await self._report("error_detected", reading, reading.problem, "error")
        else:
            self.incidents[reading.key] = replace(open_incident, value=reading.value)

    async def _report(
        self, action: str, reading: Reading, message: str, severity: str, **extra: Any
    ) -> None:
        entry = {
            "at": iso_utc_ts(time.time()),
            "action": action,
            "check": reading.key,
            "severity": severity,
            "message": message,
            "value": reading.value,
        }
        self.history.append(entry)
        data: dict[str, Any] = {
            "action": action,
            "message": message,
            "check": reading.key,
            "value": reading.value,
            "threshold": reading.threshold,
            "user_ids": list(self.config.notify),
            **extra,
        }
        if action == "error_detected":
            data["severity"] = severity
        await self.bus.publish(Event(EventType.AGENT_ACTION, SOURCE, data))

    # -- findings -----------------------------------------------------------------------------

    def findings(self) -> dict[str, Any]:
        checks = []
        for check in self.config.checks:
            result = self.results.get(check.name)
            checks.append(
                {
                    "name": check.name,
                    "target": check.target,
                    "ok": result.ok if result else None,
                    "reason": result.reason if result else None,
                    "latency_ms": result.latency_ms if result else None,
                    "checked_at": iso_utc_ts(result.checked_at) if result else None,
                }
            )
        c = self.config
        return {
            "interval": c.interval,
            "checked_at": iso_utc_ts(self.checked_at) if self.checked_at else None,
            "incidents": [i.info() for i in self.incidents.values()],
            "metrics": self.metrics.info() if self.metrics else None,
            "thresholds": {
                "memory": {"warning": c.memory_warning, "error": c.memory_error},
                "disk": {"warning": c.disk_warning, "error": c.disk_error, "path": c.disk_path},
                "cpu": {"warning": c.load_warning, "error": c.load_error},
            },
            "checks": checks,
            "history": list(reversed(self.history)),
        }

    async def status(self, caller: Identity) -> tuple[dict[str, Any], str | None]:
        found = self.findings()
        incidents = found["incidents"]
        if self.checked_at is None:
            sentence = "Guardian has not checked yet."
        elif not incidents:
            sentence = "Guardian sees no problems."
        else:
            noun = "issue" if len(incidents) == 1 else "issues"
            listed = "; ".join(i["message"] for i in incidents[:3])
            sentence = f"Guardian has {len(incidents)} open {noun}: {listed}."
        data = {k: found[k] for k in ("checked_at", "incidents", "metrics", "checks")}
        data["history"] = found["history"][:10]
        return data, sentence
