"""``[guardian]`` in ``grace.toml``: interval, thresholds, who is told, and health checks."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from grace_chat.errors import ConfigError

METRICS = ("memory", "disk", "cpu")
_KEYS = {
    "interval",
    "notify",
    "metrics",
    "memory_warning",
    "memory_error",
    "disk_warning",
    "disk_error",
    "disk_path",
    "load_warning",
    "load_error",
    "history",
    "checks",
}
_CHECK_KEYS = {"name", "url", "tcp", "timeout", "severity", "expect_status"}
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True, slots=True)
class HealthCheck:
    name: str
    url: str | None = None
    host: str | None = None
    port: int | None = None
    timeout: float = 5.0
    severity: str = "error"
    expect_status: tuple[int, ...] | None = None

    @property
    def target(self) -> str:
        return self.url if self.url else f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class GuardianConfig:
    interval: float = 30.0
    notify: tuple[str, ...] = ("user",)
    metrics: tuple[str, ...] = METRICS
    memory_warning: float = 85.0
    memory_error: float = 95.0
    disk_warning: float = 90.0
    disk_error: float = 97.0
    disk_path: str = "."
    #: One-minute load average per core.
    load_warning: float = 2.0
    load_error: float = 4.0
    history: int = 200
    checks: tuple[HealthCheck, ...] = ()

    @classmethod
    def from_section(
        cls, section: Mapping[str, Any], *, disk_path: str, default_user: str
    ) -> GuardianConfig:
        unknown = set(section) - _KEYS
        if unknown:
            raise ConfigError(f"[guardian] has unknown keys: {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {"disk_path": disk_path, "notify": (default_user,)}
        for key in ("interval", *(k for k in _KEYS if k.endswith(("_warning", "_error")))):
            if key in section:
                value = section[key]
                if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
                    raise ConfigError(f"[guardian] {key} must be a positive number")
                values[key] = float(value)
        defaults = cls()
        for metric in ("memory", "disk", "load"):
            warning = values.get(f"{metric}_warning", getattr(defaults, f"{metric}_warning"))
            error = values.get(f"{metric}_error", getattr(defaults, f"{metric}_error"))
            if warning > error:
                raise ConfigError(f"[guardian] {metric}_warning must not exceed {metric}_error")
        if "notify" in section:
            notify = section["notify"]
            if not isinstance(notify, list) or not all(isinstance(u, str) and u for u in notify):
                raise ConfigError('[guardian] notify must be a list of user ids, e.g. ["user"]')
            values["notify"] = tuple(notify)
        if "metrics" in section:
            metrics = section["metrics"]
            if not isinstance(metrics, list) or not set(metrics) <= set(METRICS):
                raise ConfigError(f"[guardian] metrics must be a list of {', '.join(METRICS)}")
            values["metrics"] = tuple(metrics)
        if "disk_path" in section:
            if not isinstance(section["disk_path"], str):
                raise ConfigError("[guardian] disk_path must be a path")
            values["disk_path"] = section["disk_path"]
        if "history" in section:
            if not isinstance(section["history"], int) or section["history"] < 1:
                raise ConfigError("[guardian] history must be a positive integer")
            values["history"] = section["history"]
        checks = section.get("checks", [])
        if not isinstance(checks, list):
            raise ConfigError("[[guardian.checks]] must be an array of tables")
        parsed = tuple(_check(c) for c in checks)
        names = [c.name for c in parsed]
        if len(set(names)) != len(names):
            raise ConfigError("[[guardian.checks]] names must be unique")
        values["checks"] = parsed
        return cls(**values)


def _check(table: Any) -> HealthCheck:
    if not isinstance(table, Mapping):
        raise ConfigError("each [[guardian.checks]] must be a table")
    name = table.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError("[[guardian.checks]] needs a name of letters, digits, _ . -")
    where = f"[[guardian.checks]] {name}"
    unknown = set(table) - _CHECK_KEYS
    if unknown:
        raise ConfigError(f"{where} has unknown keys: {', '.join(sorted(unknown))}")
    url, tcp = table.get("url"), table.get("tcp")
    if (url is None) == (tcp is None):
        raise ConfigError(f'{where} needs exactly one of url = "http://…" or tcp = "host:port"')
    timeout = table.get("timeout", 5.0)
    if not isinstance(timeout, int | float) or timeout <= 0:
        raise ConfigError(f"{where}: timeout must be a positive number of seconds")
    severity = table.get("severity", "error")
    if severity not in ("warning", "error"):
        raise ConfigError(f'{where}: severity must be "warning" or "error"')
    expect = table.get("expect_status")
    if expect is not None and (
        not isinstance(expect, list) or not all(isinstance(s, int) for s in expect)
    ):
        raise ConfigError(f"{where}: expect_status must be a list of HTTP status codes")
    common: dict[str, Any] = {
        "name": name,
        "timeout": float(timeout),
        "severity": severity,
        "expect_status": tuple(expect) if expect else None,
    }
    if url is not None:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ConfigError(f"{where}: url must start with http:// or https://")
        return HealthCheck(url=url, **common)
    if not isinstance(tcp, str):
        raise ConfigError(f'{where}: tcp must be "host:port"')
    host, _, port = tcp.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f'{where}: tcp must be "host:port", got {tcp!r}')
    return HealthCheck(host=host.strip("[]"), port=int(port), **common)
