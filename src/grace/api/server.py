"""Running the ASGI app under uvicorn with Grace's limits, for ``grace serve`` and the tests."""

from __future__ import annotations

import gc
import socket

import uvicorn

from grace.api.connections import GraceHttpProtocol
from grace.api.wsproto import GraceWebSocketProtocol
from grace.config import Settings


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


class GraceServer(uvicorn.Server):
    """uvicorn's server, which tunes the cycle collector once started."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        gc.collect()
        gc.freeze()  # what start-up built lives as long as the process: never scan it again
        gc.set_threshold(*GC_THRESHOLD)


def make_server(app: object, settings: Settings, lifespan: str = "on") -> uvicorn.Server:
    """``lifespan="off"`` when the caller starts and stops Grace itself.

    WebSockets run on ``GraceWebSocketProtocol`` (frames flushed once per loop turn; the stream
    served without ASGI when ``app`` is Grace's, see ``create_app``), without per-message
    compression: notification frames are small, and a zlib context per connection would cost
    more memory than the whole rest of the connection.
    """
    grace = getattr(getattr(app, "state", None), "grace", None)
    protocol = (
        GraceWebSocketProtocol.bound_to(grace) if grace is not None else GraceWebSocketProtocol
    )
    config = uvicorn.Config(
        app,  # type: ignore[arg-type]
        http=GraceHttpProtocol.configured(settings),  # header timeout, connections per address
        ws=protocol,
        ws_per_message_deflate=False,
        log_level=settings.log_level,
        ws_max_size=settings.max_message_bytes,
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        timeout_graceful_shutdown=5,
        access_log=settings.log_level == "debug",
        lifespan=lifespan,  # type: ignore[arg-type]
    )
    return GraceServer(config)


def base_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
