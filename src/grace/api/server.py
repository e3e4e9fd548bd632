"""Running the ASGI app under uvicorn with Grace's limits, for ``grace serve`` and the tests."""

from __future__ import annotations

import socket

import uvicorn

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


def make_server(app: object, settings: Settings, lifespan: str = "on") -> uvicorn.Server:
    """``lifespan="off"`` when the caller starts and stops Grace itself.

    WebSockets run on ``GraceWebSocketProtocol`` (frames flushed once per loop turn), without
    per-message compression: notification frames are small, and a zlib context per connection
    would cost more memory than the whole rest of the connection.
    """
    config = uvicorn.Config(
        app,  # type: ignore[arg-type]
        ws=GraceWebSocketProtocol,
        ws_per_message_deflate=False,
        log_level=settings.log_level,
        ws_max_size=settings.max_message_bytes,
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        timeout_graceful_shutdown=5,
        access_log=settings.log_level == "debug",
        lifespan=lifespan,  # type: ignore[arg-type]
    )
    return uvicorn.Server(config)


def base_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
