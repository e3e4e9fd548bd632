"""Running the ASGI app under uvicorn with Grace's limits, for ``grace serve`` and the tests."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
import gc
import importlib.util
import logging
import re
import signal
import socket
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import uvicorn
from uvicorn.config import LOGGING_CONFIG

from grace_chat.api.connections import GraceHttpProtocol
from grace_chat.config import Settings
from grace_chat.protocol import STREAM_PATH

if TYPE_CHECKING:
    from grace_chat.api.wsproto import GraceWebSocketProtocol


def listen(host: str, port: int) -> socket.socket:
    """Bind and listen before the server starts, so the real port (``port=0``) is known."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(2048)
    return sock


#: The cycle collector's thresholds (Python's defaults are 700, 10, 10). Delivery allocates many
#: short-lived objects and few cycles; with the defaults, full collections over every
#: connection's objects ran often enough to put 100 ms stalls into a burst. Here the young
#: generation is collected every 10,000 net allocations and a full collection comes after 1,000
#: middle ones (minutes apart under load), so cyclic garbage is still reclaimed.
GC_THRESHOLD = (10_000, 50, 1000)


log = logging.getLogger("grace.server")

#: The signals that stop ``grace serve``: SIGTERM (systemd, Docker, Kubernetes, ``kill``), SIGINT
#: (Ctrl-C) and SIGHUP (the terminal went away; left alone when the process started with it
#: ignored, as under ``nohup``).
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class GraceServer(uvicorn.Server):
    """uvicorn's server, which tunes the cycle collector once started.

    On its own, ``serve`` handles SIGINT and SIGTERM as uvicorn does: it stops, then raises the
    signal again as it returns, and the default action of SIGTERM ends the process there, before
    the caller's ``finally`` runs. Inside ``stop_on_signals`` the caller owns the signals instead,
    for as long as its clean-up takes, and decides how the process ends.
    """

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        #: Stop signals received under ``stop_on_signals``, in order.
        self.signals: list[int] = []
        self._owned = False
        self._again: Callable[[int], None] = lambda count: None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        gc.collect()
        gc.freeze()  # what start-up built lives as long as the process: never scan it again
        gc.set_threshold(*GC_THRESHOLD)

    @contextlib.contextmanager
    def stop_on_signals(self, again: Callable[[int], None]) -> Iterator[None]:
        """Handle the stop signals while the block runs (call from the event loop's thread).

        The first one stops the server gracefully (``should_exit``, as uvicorn would); each later
        one stops it at once (``force_exit``) and calls ``again(count)``, ``count`` being 2 for
        the second signal, so the caller can cut its own clean-up short. Nothing is re-raised:
        ``signals`` says what was received, and the caller ends the process when it is done.
        """
        loop = asyncio.get_running_loop()
        installed: list[int] = []
        for sig in STOP_SIGNALS:
            if sig == signal.SIGHUP and signal.getsignal(sig) == signal.SIG_IGN:
                continue
            loop.add_signal_handler(sig, self._received, sig)
            installed.append(sig)
        self._owned, self._again = True, again
        try:
            yield
        finally:
            self._owned = False
            for number in installed:
                loop.remove_signal_handler(number)

    def _received(self, sig: int) -> None:
        self.signals.append(sig)
        name = signal.Signals(sig).name
        # uvicorn's handler (which sse-starlette wraps to end its streams) starts the shutdown.
        self.handle_exit(sig, None)
        if len(self.signals) == 1:
            log.info("%s received: stopping (send it again to stop at once)", name)
            return
        log.warning("%s received again: stopping at once", name)
        self.should_exit = self.force_exit = True
        self._again(len(self.signals))

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if self._owned:
            yield  # stop_on_signals handles them, and nothing is raised again afterwards
            return
        with super().capture_signals():
            yield


#: uvicorn's logging, with its access log on standard error as every other log line (standard
#: output carries only what ``grace serve`` prints for the person who started it).
LOG_CONFIG: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
LOG_CONFIG["handlers"]["access"]["stream"] = "ext://sys.stderr"
#: The oldest uvicorn the fast WebSocket path (``grace_chat.api.wsproto``, which subclasses its
#: sans-I/O WebSocket protocol) is proven on: 0.34 has no such protocol; up to 0.52.0 it lacks
#: the state the fast path's closing handshake and flow control use. ``scripts/test-floors``
#: runs the protocol tests on this release.
FAST_PATH_UVICORN = (0, 52, 1)


def _release(version: str) -> tuple[int, int, int]:
    """``"0.52.1"`` → ``(0, 52, 1)``; missing or unreadable parts count as 0."""
    found = re.match(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?", version)
    if found is None:
        return (0, 0, 0)
    major, minor, micro = (int(part or 0) for part in found.groups())
    return (major, minor, micro)


@functools.cache
def fast_websockets() -> type[GraceWebSocketProtocol] | None:
    """Grace's WebSocket protocol, or ``None`` when the installed uvicorn lacks what it needs.

    Then a warning says so, once per process, and the stream is served by the ASGI route
    (``grace_chat.api.ws``) under uvicorn's own WebSocket protocol: the same protocol v1, at the
    ASGI route's cost per connection.
    """
    reason = None
    if _release(uvicorn.__version__) < FAST_PATH_UVICORN:
        reason = f"uvicorn {uvicorn.__version__} is installed"
    else:
        try:
            from grace_chat.api.wsproto import GraceWebSocketProtocol
        except ImportError as exc:
            reason = f"uvicorn {uvicorn.__version__} lacks what it subclasses ({exc})"
        else:
            return GraceWebSocketProtocol
    log.warning(
        "the fast WebSocket path is off: it needs uvicorn %s or later and %s; the ASGI route "
        "serves %s instead (pip install 'uvicorn>=%s')",
        ".".join(map(str, FAST_PATH_UVICORN)),
        reason,
        STREAM_PATH,
        ".".join(map(str, FAST_PATH_UVICORN)),
    )
    return None


def _uvicorn_websockets() -> str:
    """uvicorn's own WebSocket protocol for the ASGI route: the sans-I/O one where it exists."""
    sansio = "uvicorn.protocols.websockets.websockets_sansio_impl"
    try:
        return "websockets-sansio" if importlib.util.find_spec(sansio) is not None else "auto"
    except ImportError:
        return "auto"


def make_server(app: object, settings: Settings, lifespan: str = "on") -> GraceServer:
    """``lifespan="off"`` when the caller starts and stops Grace itself.

    WebSockets run on ``GraceWebSocketProtocol`` (frames flushed once per loop turn; the stream
    served without ASGI when ``app`` is Grace's, see ``create_app``), with per-message
    compression only when ``settings.ws_deflate`` asks for it (docs/performance.md has the
    figures). When the installed uvicorn lacks what that protocol needs (``fast_websockets``),
    uvicorn's own serves the ASGI route.
    """
    state = getattr(app, "state", None)
    grace = getattr(state, "grace", None)
    native = fast_websockets()
    protocol: type[asyncio.Protocol] | str
    if native is None:
        protocol = _uvicorn_websockets()
    else:
        protocol = (
            native.bound_to(grace, getattr(state, "gate", None)) if grace is not None else native
        )
    config = uvicorn.Config(
        app,  # type: ignore[arg-type]
        http=GraceHttpProtocol.configured(settings),  # header timeout, connections per address
        ws=protocol,
        ws_per_message_deflate=settings.ws_deflate,
        log_level=settings.log_level,
        ws_max_size=settings.max_message_bytes,
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        timeout_graceful_shutdown=5,
        access_log=settings.access_log,
        log_config=LOG_CONFIG,
        lifespan=lifespan,  # type: ignore[arg-type]
    )
    if settings.access_log:  # asked for: logged whatever the level of the other logs
        logging.getLogger("uvicorn.access").setLevel(logging.INFO)
    return GraceServer(config)


def base_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
