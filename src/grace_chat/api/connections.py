"""Grace's HTTP connection protocol: uvicorn's httptools one, with limits on incomplete requests.

uvicorn gives a client all the time it wants to finish a request's line and headers (its
keep-alive timer only runs between requests), lets it send headers of any size, and takes any
number of connections from one address. A few hundred connections that never finish a request
then hold a file descriptor each until the process runs out and every real request fails.
``GraceHttpProtocol`` adds, per connection:

* **a header timeout** (``header_timeout``): from when the connection opens, or a request starts
  on a kept-alive connection, to the end of that request's headers. A WebSocket handshake is an
  HTTP request, so a half-sent one is cut off the same way. Past it the connection is closed.
* **a header size cap** (``MAX_HEADER_BYTES``): a request line and headers larger than that are
  answered 431 ``too_large`` and the connection is closed (httptools itself buffers them without
  bound).
* **a cap on connections per client address** (``max_connections_per_address``, 0: none),
  WebSocket connections included for as long as they are open. A connection over the cap is
  closed as soon as it is accepted, before anything is read; the first refusal of an episode is
  logged, and the episode ends (logged with the number refused) once the address holds half the
  cap or less.

``make_server`` passes ``GraceHttpProtocol.configured(settings)`` to uvicorn.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, ClassVar

import orjson
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from grace_chat.config import Settings
from grace_chat.errors import TooLarge

log = logging.getLogger("grace_chat.api.connections")

#: Largest request line plus headers accepted (then 431 and the connection is closed).
MAX_HEADER_BYTES = 64 * 1024


class AddressLimiter:
    """Connections open per client address, refusing those over ``cap`` (0: no cap)."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._open: dict[str, int] = {}
        #: Addresses being refused, with how many connections were refused in this episode.
        self._refusing: dict[str, int] = {}

    def held(self, address: str) -> int:
        return self._open.get(address, 0)

    def acquire(self, address: str) -> bool:
        """Count a new connection from ``address``; ``False`` (nothing counted) over the cap."""
        held = self._open.get(address, 0)
        if self.cap and held >= self.cap:
            refused = self._refusing.get(address)
            if refused is None:
                log.warning(
                    "refusing connections from %s: it holds %d open, the most one address may "
                    "(max_connections_per_address)",
                    address or "a local socket",
                    held,
                )
                refused = 0
            self._refusing[address] = refused + 1
            return False
        self._open[address] = held + 1
        return True

    def release(self, address: str) -> None:
        held = self._open.get(address, 0) - 1
        if held > 0:
            self._open[address] = held
        else:
            self._open.pop(address, None)
        if address in self._refusing and held <= self.cap // 2:
            refused = self._refusing.pop(address)
            log.warning(
                "accepting connections from %s again (%d refused while it was at the cap)",
                address or "a local socket",
                refused,
            )


class _Held:
    """One counted connection; released once, by whichever protocol holds the transport."""

    __slots__ = ("_address", "_limiter")

    def __init__(self, limiter: AddressLimiter, address: str) -> None:
        self._limiter: AddressLimiter | None = limiter
        self._address = address

    def release(self) -> None:
        limiter, self._limiter = self._limiter, None
        if limiter is not None:
            limiter.release(self._address)


class _ReleasesOnClose(asyncio.Protocol):
    """Mixed into the WebSocket protocol: the upgraded connection stays counted until it ends."""

    held_slot: _Held | None = None

    def connection_lost(self, exc: Exception | None) -> None:
        try:
            super().connection_lost(exc)
        finally:
            held, self.held_slot = self.held_slot, None
            if held is not None:
                held.release()


_RELEASING: dict[type[asyncio.Protocol], type[asyncio.Protocol]] = {}


def _releasing(ws_protocol: type[asyncio.Protocol]) -> type[asyncio.Protocol]:
    """``ws_protocol`` that releases the connection's count when the connection ends."""
    if issubclass(ws_protocol, _ReleasesOnClose):
        return ws_protocol
    made = _RELEASING.get(ws_protocol)
    if made is None:
        made = _RELEASING[ws_protocol] = type(
            ws_protocol.__name__, (_ReleasesOnClose, ws_protocol), {}
        )
    return made


def client_address(transport: asyncio.BaseTransport) -> str:
    peer = transport.get_extra_info("peername")
    if isinstance(peer, tuple | list) and peer:
        return str(peer[0])
    return ""  # a Unix socket: every client is the same local address


def _refusal(status: int, phrase: bytes, error: TooLarge) -> bytes:
    body = orjson.dumps({"error": {"code": error.code.value, "message": error.message}})
    return b"".join(
        [
            b"HTTP/1.1 %d %s\r\n" % (status, phrase),
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n",
            body,
        ]
    )


HEADERS_TOO_LARGE = _refusal(
    431,
    b"Request Header Fields Too Large",
    TooLarge(f"the request line and headers are larger than {MAX_HEADER_BYTES} bytes"),
)


class GraceHttpProtocol(HttpToolsProtocol):
    """``uvicorn.Config(http=GraceHttpProtocol.configured(settings))``."""

    header_timeout: ClassVar[float] = 10.0
    limiter: ClassVar[AddressLimiter | None] = None

    @classmethod
    def configured(cls, settings: Settings) -> type[GraceHttpProtocol]:
        """This protocol with ``settings``' limits and its own count of connections."""
        limiter = (
            AddressLimiter(settings.max_connections_per_address)
            if settings.max_connections_per_address
            else None
        )
        attrs: dict[str, Any] = {"header_timeout": settings.header_timeout, "limiter": limiter}
        return type(cls.__name__, (cls,), attrs)

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        if self.ws_protocol_class is not None:
            self.ws_protocol_class = _releasing(self.ws_protocol_class)
        self._held: _Held | None = None
        self._refused = False
        self._header_timer: asyncio.TimerHandle | None = None
        self._header_bytes = 0
        self._headers_completed = 0

    # -- the connection -----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        limiter = self.limiter
        if limiter is not None:
            address = client_address(transport)
            if not limiter.acquire(address):
                self._refused = True
                transport.close()
                return
            self._held = _Held(limiter, address)
        super().connection_made(transport)
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._refused:
            return
        self._disarm_header_timer()
        held, self._held = self._held, None
        if held is not None:
            held.release()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._header_timer is None and (self.cycle is None or self.cycle.response_complete):
            self._arm_header_timer()  # the first bytes of the next request on this connection
        completed = self._headers_completed
        super().data_received(data)
        if self._header_timer is None or self.transport.is_closing():
            return
        # Still inside a request's headers: count them (a chunk that also finished headers
        # counts from zero again; at most one read's worth goes uncounted).
        self._header_bytes = 0 if completed != self._headers_completed else self._header_bytes
        self._header_bytes += len(data)
        if self._header_bytes > MAX_HEADER_BYTES:
            self._disarm_header_timer()
            self.transport.write(HEADERS_TOO_LARGE)
            self.transport.close()

    def handle_websocket_upgrade(self) -> None:
        held, self._held = self._held, None
        super().handle_websocket_upgrade()
        # The WebSocket protocol owns the connection now. Its parser and this protocol refer to
        # each other: cut that loop so the HTTP side (parser, request scope, headers) is freed
        # now rather than by a later collection of the cycle collector.
        self.parser = None  # type: ignore[assignment]
        self.scope = None  # type: ignore[assignment]
        self.headers = None  # type: ignore[assignment]
        if held is None:
            return
        protocol = self.transport.get_protocol()
        if isinstance(protocol, _ReleasesOnClose):
            protocol.held_slot = held
        else:
            held.release()

    # -- parser callbacks ---------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm_header_timer()

    def on_headers_complete(self) -> None:
        self._disarm_header_timer()
        self._headers_completed += 1
        self._header_bytes = 0
        super().on_headers_complete()

    # -- the header timer ---------------------------------------------------------------------

    def _arm_header_timer(self) -> None:
        if self._header_timer is None and not self.transport.is_closing():
            self._header_timer = self.loop.call_later(self.header_timeout, self._headers_late)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            log.debug(
                "closing a connection from %s: no complete request headers within %g s",
                self.client[0] if self.client else "a local socket",
                self.header_timeout,
            )
            self.transport.close()
