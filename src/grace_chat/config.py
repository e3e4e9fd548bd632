"""Frozen settings. The environment is read in exactly one place: ``Settings.from_env``.

Every other module receives a ``Settings`` (or the values it needs) as an argument.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from grace_chat.errors import ConfigError

REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
LOG_FORMATS = ("text", "json")
TRUE = frozenset({"1", "true", "yes", "on"})
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything Grace can be told. Defaults give the embedded, single-process set-up."""

    data_dir: Path = Path(".grace")
    #: ``sqlite:///path`` (default: ``grace.db`` in ``data_dir``) or ``postgresql://…``.
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "info"
    #: HS256 signing secret; generated into ``data_dir/secret.key`` when unset.
    secret: str | None = None
    token_ttl_seconds: int = 30 * 24 * 3600
    #: Development only: identity from ``?user_id=``; refused on a non-loopback host.
    no_auth: bool = False
    #: Browser origins allowed besides the server's own; ``*`` allows any.
    allowed_origins: tuple[str, ...] = ()
    #: Users that receive bus events which name no ``user_id``.
    default_recipients: tuple[str, ...] = ()
    #: Retention of each user's log: keep at most this many, none older than this.
    retention_count: int = 10_000
    retention_days: float = 30.0
    #: SQLite ``synchronous`` pragma: FULL survives power loss, NORMAL only process crashes.
    sqlite_synchronous: str = "FULL"
    #: Page cache of the SQLite writer connection, in MiB: the logs' hot pages stay in memory.
    sqlite_cache_mib: int = 64
    #: Group commit window of the SQLite log, in milliseconds: while appends overlap, a
    #: notification appended while the log is idle waits up to this long for others to share
    #: its commit (one fsync for several); 64 or more waiting deliveries commit at once, and a
    #: publisher that awaits each notification in turn never waits. 0: every commit starts at
    #: once. At a steady 2,000/s the default 4 ms costs a fifth less CPU per delivery.
    sqlite_commit_window_ms: float = 4.0
    #: Most connections one process opens to PostgreSQL for its stores (plus one of its own).
    postgres_pool_size: int = 10
    #: ``redis://…``: relay live frames between processes through Redis (unset: one process).
    redis_url: str | None = None
    #: Several processes on one PostgreSQL database (a cluster): each process's heartbeat, in
    #: seconds (also how often it looks for commands it missed and tries to lead).
    cluster_heartbeat_seconds: float = 2.0
    #: A process whose heartbeat is older than this is taken for dead: the leader marks its
    #: tasks ``interrupted`` (a process that exits or is killed is noticed at the next sweep).
    cluster_owner_timeout_seconds: float = 15.0
    #: How often a process waiting for another's answer (a command, an approval) reads the store
    #: in case its wake-up was lost.
    cluster_poll_seconds: float = 1.0
    #: How long a command waits for the process that owns its task or mission.
    cluster_command_timeout_seconds: float = 10.0
    #: Prefix of the Redis channel, so several deployments (or test runs) can share one Redis.
    redis_prefix: str = "grace"
    #: Per-connection outbound queue; a client that lets it fill is closed with 4008.
    queue_max_frames: int = 2_000
    #: Largest client frame handled as a command (bigger: ``too_large`` error, socket stays open).
    max_command_bytes: int = 64 * 1024
    #: Largest WebSocket message accepted at all (bigger: close 1009).
    max_message_bytes: int = 1024 * 1024
    #: Commands per second per connection, and the burst allowed above that.
    command_rate: float = 20.0
    command_burst: int = 60
    #: Commands per second per user, shared by all of that user's connections, and the burst;
    #: unset, twice the per-connection figures (see ``user_command_budget``).
    user_command_rate: float | None = None
    user_command_burst: int | None = None
    #: Open streams (WebSocket and SSE) per user; one more is refused (WebSocket: close 4429).
    max_connections_per_user: int = 32
    #: Seconds a connection may take to send ``hello`` when the request did not identify it.
    hello_timeout: float = 10.0
    #: Largest HTTP request body under ``/api/`` (bigger: 413 ``too_large``, connection closed).
    #: Uploads to learning have their own cap, ``[learning] max_bytes``.
    max_body_bytes: int = 1024 * 1024
    #: Seconds a client has to send a request's line and headers (a WebSocket handshake's too),
    #: from when the connection opens or the request starts; then the connection is closed.
    header_timeout: float = 10.0
    #: Seconds the server waits for the next part of a request body it is reading.
    body_timeout: float = 30.0
    #: Connections one client address may hold open at once, WebSockets included (0: no cap).
    max_connections_per_address: int = 256
    #: SSE keep-alive comment interval.
    sse_ping_seconds: float = 15.0
    #: The user the seed's calls mean when they name none (approvals, ``grace serve``'s token).
    default_user: str = "user"
    #: Background tasks that may run at once; the rest wait ``queued``.
    task_concurrency: int = 4
    #: Seconds a task has to stop after cancel (then it is killed / its coroutine cancelled).
    cancel_grace_seconds: float = 5.0
    #: A person who comes back to this many missed notifications or more gets one summary of
    #: them first (``synced.summary``); 0 never summarizes.
    away_digest_threshold: int = 20
    #: Celery, for task types with ``executor = "celery"``: the broker (``amqp://…``,
    #: ``redis://…``), the result backend Grace reads their state from, or an app to take both
    #: from (``myapp.celery:app``).
    celery_broker_url: str | None = None
    celery_result_backend: str | None = None
    celery_app: str | None = None
    #: Client addresses (networks) that may read ``/metrics`` without an admin token.
    metrics_allow: tuple[str, ...] = ("127.0.0.0/8", "::1/128")
    #: ``text`` (one line per record) or ``json`` (one JSON object per line).
    log_format: str = "text"
    #: Log every HTTP request (uvicorn's access log); off by default.
    access_log: bool = False
    #: Offer permessage-deflate to WebSocket clients (browsers ask for it): fewer bytes on the
    #: wire for more CPU and a compression context per connection (docs/performance.md).
    ws_deflate: bool = False
    #: ``grace.toml`` as parsed: ``[tasks.NAME]`` and ``[approvals]`` tables.
    file: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.data_dir, Path):
            object.__setattr__(self, "data_dir", Path(self.data_dir))
        if self.no_auth and not is_loopback(self.host):
            raise ConfigError(
                f"--no-auth is for local development and refuses to bind {self.host!r}; "
                "bind 127.0.0.1 or use tokens"
            )
        if self.sqlite_cache_mib < 1:
            raise ConfigError("sqlite_cache_mib must be at least 1")
        if not 0 <= self.sqlite_commit_window_ms <= 1000:
            raise ConfigError("sqlite_commit_window_ms must be between 0 and 1000")
        if self.sqlite_synchronous.upper() not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
            raise ConfigError("sqlite_synchronous must be OFF, NORMAL, FULL or EXTRA")
        if self.postgres_pool_size < 1:
            raise ConfigError("postgres_pool_size must be at least 1")
        if self.redis_url is not None and not self.redis_url.startswith(REDIS_SCHEMES):
            raise ConfigError(
                "redis_url must start with redis://, rediss:// or unix:// "
                f"(got {self.redis_url.partition('://')[0]!r})"
            )
        if not self.redis_prefix or any(c.isspace() for c in self.redis_prefix):
            raise ConfigError("redis_prefix must be non-empty, without spaces")
        if self.retention_count < 1:
            raise ConfigError("retention_count must be at least 1")
        if self.task_concurrency < 1:
            raise ConfigError("task_concurrency must be at least 1")
        if self.queue_max_frames < 1:
            raise ConfigError("queue_max_frames must be at least 1")
        if self.max_connections_per_user < 1:
            raise ConfigError("max_connections_per_user must be at least 1")
        for name in (
            "cluster_heartbeat_seconds",
            "cluster_owner_timeout_seconds",
            "cluster_poll_seconds",
            "cluster_command_timeout_seconds",
        ):
            if not 0 < getattr(self, name) < float("inf"):
                raise ConfigError(f"{name} must be a number of seconds above 0")
        if self.cluster_owner_timeout_seconds <= 2 * self.cluster_heartbeat_seconds:
            raise ConfigError(
                "cluster_owner_timeout_seconds must be more than twice "
                "cluster_heartbeat_seconds (a live process must not look dead)"
            )
        for name in ("command_rate", "user_command_rate"):
            if (rate := getattr(self, name)) is not None and not rate > 0:
                raise ConfigError(f"{name} must be above 0")
        for name in ("command_burst", "user_command_burst"):
            if (burst := getattr(self, name)) is not None and burst < 1:
                raise ConfigError(f"{name} must be at least 1")
        if self.max_body_bytes < 1:
            raise ConfigError("max_body_bytes must be at least 1")
        if self.header_timeout <= 0 or self.body_timeout <= 0:
            raise ConfigError("header_timeout and body_timeout must be positive")
        if self.max_connections_per_address < 0:
            raise ConfigError("max_connections_per_address must be 0 (no cap) or more")
        if self.away_digest_threshold < 0:
            raise ConfigError("away_digest_threshold must be 0 (off) or more")
        if self.log_format not in LOG_FORMATS:
            raise ConfigError(f"log_format must be one of {', '.join(LOG_FORMATS)}")
        object.__setattr__(self, "metrics_allow", tuple(self.metrics_allow))
        for entry in self.metrics_allow:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError as exc:
                raise ConfigError(f"metrics_allow: {exc}") from None

    @property
    def metrics_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """``metrics_allow`` as networks (an address alone is a network of one)."""
        return tuple(ipaddress.ip_network(a, strict=False) for a in self.metrics_allow)

    def metrics_allowed(self, address: str | None) -> bool:
        """Whether a client at ``address`` may read ``/metrics`` without an admin token."""
        if not address:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.metrics_networks)

    @property
    def user_command_budget(self) -> tuple[float, int]:
        """Commands per second and burst one user's connections share."""
        rate = self.user_command_rate
        burst = self.user_command_burst
        return (
            2 * self.command_rate if rate is None else rate,
            2 * self.command_burst if burst is None else burst,
        )

    @property
    def tasks_config(self) -> Mapping[str, Any]:
        return dict(self.file.get("tasks", {}))

    @property
    def approvals_config(self) -> Mapping[str, Any]:
        return dict(self.file.get("approvals", {}))

    def section(self, name: str) -> Mapping[str, Any]:
        """A ``grace.toml`` section (``learning``, ``guardian``, ``selfheal``, ``missions``)."""
        return dict(self.file.get(name, {}))

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'grace.db'}"

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from ``GRACE_*`` variables; explicit ``overrides`` (CLI flags) win."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}

        def text(name: str, key: str) -> None:
            if (raw := env.get(name)) not in (None, ""):
                values[key] = raw

        def number(name: str, key: str, kind: type[int] | type[float]) -> None:
            if (raw := env.get(name)) not in (None, ""):
                try:
                    values[key] = kind(raw)
                except ValueError as exc:
                    raise ConfigError(f"{name} must be a number, got {raw!r}") from exc

        def listing(name: str, key: str) -> None:
            if (raw := env.get(name)) not in (None, ""):
                values[key] = tuple(p.strip() for p in raw.split(",") if p.strip())

        if (raw := env.get("GRACE_DATA_DIR")) not in (None, ""):
            values["data_dir"] = Path(raw)
        text("GRACE_DATABASE_URL", "database_url")
        text("GRACE_HOST", "host")
        number("GRACE_PORT", "port", int)
        text("GRACE_LOG_LEVEL", "log_level")
        text("GRACE_SECRET", "secret")
        number("GRACE_TOKEN_TTL", "token_ttl_seconds", int)
        listing("GRACE_ALLOWED_ORIGINS", "allowed_origins")
        listing("GRACE_DEFAULT_RECIPIENTS", "default_recipients")
        number("GRACE_RETENTION_COUNT", "retention_count", int)
        number("GRACE_RETENTION_DAYS", "retention_days", float)
        text("GRACE_SQLITE_SYNCHRONOUS", "sqlite_synchronous")
        number("GRACE_SQLITE_CACHE_MIB", "sqlite_cache_mib", int)
        number("GRACE_SQLITE_COMMIT_WINDOW_MS", "sqlite_commit_window_ms", float)
        number("GRACE_POSTGRES_POOL_SIZE", "postgres_pool_size", int)
        text("GRACE_REDIS_URL", "redis_url")
        text("GRACE_REDIS_PREFIX", "redis_prefix")
        number("GRACE_CLUSTER_HEARTBEAT", "cluster_heartbeat_seconds", float)
        number("GRACE_CLUSTER_OWNER_TIMEOUT", "cluster_owner_timeout_seconds", float)
        number("GRACE_CLUSTER_POLL", "cluster_poll_seconds", float)
        number("GRACE_CLUSTER_COMMAND_TIMEOUT", "cluster_command_timeout_seconds", float)
        number("GRACE_QUEUE_MAX_FRAMES", "queue_max_frames", int)
        number("GRACE_COMMAND_RATE", "command_rate", float)
        number("GRACE_COMMAND_BURST", "command_burst", int)
        number("GRACE_USER_COMMAND_RATE", "user_command_rate", float)
        number("GRACE_USER_COMMAND_BURST", "user_command_burst", int)
        number("GRACE_MAX_CONNECTIONS_PER_USER", "max_connections_per_user", int)
        text("GRACE_DEFAULT_USER", "default_user")
        number("GRACE_TASK_CONCURRENCY", "task_concurrency", int)
        number("GRACE_MAX_BODY_BYTES", "max_body_bytes", int)
        number("GRACE_HEADER_TIMEOUT", "header_timeout", float)
        number("GRACE_BODY_TIMEOUT", "body_timeout", float)
        number("GRACE_MAX_CONNECTIONS_PER_ADDRESS", "max_connections_per_address", int)
        number("GRACE_AWAY_DIGEST_THRESHOLD", "away_digest_threshold", int)
        text("GRACE_CELERY_BROKER_URL", "celery_broker_url")
        text("GRACE_CELERY_RESULT_BACKEND", "celery_result_backend")
        text("GRACE_CELERY_APP", "celery_app")
        if env.get("GRACE_NO_AUTH", "").lower() in {"1", "true", "yes"}:
            values["no_auth"] = True
        if (raw := env.get("GRACE_METRICS_ALLOW")) is not None:
            # "none" (or empty): an admin token is needed from every address
            parts = tuple(p.strip() for p in raw.split(",") if p.strip())
            values["metrics_allow"] = () if parts in ((), ("none",)) else parts
        if (raw := env.get("GRACE_LOG_FORMAT")) not in (None, ""):
            values["log_format"] = raw.strip().lower()
        if (raw := env.get("GRACE_ACCESS_LOG")) not in (None, ""):
            values["access_log"] = raw.strip().lower() in TRUE
        if (raw := env.get("GRACE_WS_DEFLATE")) not in (None, ""):
            values["ws_deflate"] = raw.strip().lower() in TRUE
        config_file = overrides.pop("config_file", None) or env.get("GRACE_CONFIG") or None
        values.update({k: v for k, v in overrides.items() if v is not None})
        values["file"] = load_config_file(
            Path(config_file) if config_file else None, values.get("data_dir", Path(".grace"))
        )
        return cls(**values)


KNOWN_SECTIONS = frozenset({"tasks", "approvals", "learning", "guardian", "selfheal", "missions"})


def load_config_file(path: Path | None, data_dir: Path) -> dict[str, Any]:
    """``grace.toml``: the given path, else ``DATA_DIR/grace.toml``, else ``./grace.toml``;
    none at all is an empty configuration. An explicitly given file must exist."""
    if path is None:
        path = next((p for p in (data_dir / "grace.toml", Path("grace.toml")) if p.is_file()), None)
        if path is None:
            return {}
    try:
        with path.open("rb") as fh:
            parsed = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    unknown = set(parsed) - KNOWN_SECTIONS
    if unknown:
        raise ConfigError(
            f"config file {path} has unknown sections: {', '.join(sorted(unknown))} "
            f"(known: {', '.join(sorted(KNOWN_SECTIONS))})"
        )
    return parsed
