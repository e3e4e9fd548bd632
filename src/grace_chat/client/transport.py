"""The two ways a notification stream reaches the client: WebSocket (protocol v1) and SSE.

Each is an async generator of server frames (dicts), authenticated by the token and resuming
after ``since``. They classify every failure once, for the client's retry loop:

* ``BadURL``: nothing that speaks Grace is at the URL (never retried);
* ``Unauthenticated`` / ``Forbidden``: the token or origin was refused (never retried);
* ``WebSocketRefused``: the upgrade was refused, by the server or a proxy (try SSE);
* ``Disconnected``: could not connect, or the connection ended (retry with backoff).

A frame the server sends as an ``error`` is yielded like any other: what it means is the
caller's to decide.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import orjson
from httpx_sse import SSEError, aconnect_sse
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from grace_chat.errors import (
    BadURL,
    Crowded,
    Disconnected,
    Forbidden,
    Unauthenticated,
    WebSocketRefused,
    error_from,
)
from grace_chat.protocol import STREAM_PATH, CloseCode

SSE_PATH = "/api/notifications/sse"
Frame = dict[str, Any]


@dataclass(frozen=True)
class Endpoint:
    """A server's base URLs: ``http`` for REST and SSE, ``ws`` for the stream."""

    http: str
    ws: str

    @classmethod
    def parse(cls, url: str) -> Endpoint:
        """``http(s)://host[:port][/prefix]`` (or ``ws(s)://``); ``BadURL`` saying what is wrong."""
        try:
            parts = urlsplit(url.strip())
            port = parts.port
        except ValueError as exc:
            raise BadURL(f"bad server URL {url!r}: {exc}") from None
        schemes = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}
        if parts.scheme not in schemes:
            raise BadURL(f"bad server URL {url!r}: it must start with http:// or https://")
        if not parts.hostname:
            raise BadURL(f"bad server URL {url!r}: it names no host")
        if port == 0:
            raise BadURL(f"bad server URL {url!r}: port 0 is not a server's port")
        if parts.query or parts.fragment:
            raise BadURL(f"bad server URL {url!r}: give the server's base URL, without ?query")
        secure = schemes[parts.scheme] == "wss"
        path = parts.path.rstrip("/")
        http = urlunsplit(("https" if secure else "http", parts.netloc, path, "", ""))
        ws = urlunsplit(("wss" if secure else "ws", parts.netloc, path, "", ""))
        return cls(http, ws)


def split_frames(message: str | bytes) -> list[Frame]:
    """The frames of one WebSocket message (several are separated by newlines)."""
    text = message.decode() if isinstance(message, bytes) else message
    frames = []
    for line in text.split("\n"):
        if line:
            value = orjson.loads(line)
            if isinstance(value, dict):
                frames.append(value)
    return frames


def closed_error(code: int | None, reason: str) -> Exception:
    why = reason or "no reason given"
    if code == CloseCode.UNAUTHENTICATED:
        return Unauthenticated(why)
    if code == CloseCode.FORBIDDEN:
        return Forbidden(why)
    if code == CloseCode.TOO_MANY_CONNECTIONS:
        return Crowded(f"too many streams open: {why}")
    return Disconnected(f"the connection closed ({code}: {why})")


async def open_websocket(endpoint: Endpoint, timeout: float) -> ClientConnection:
    """A WebSocket to the stream path, not yet authenticated."""
    url = endpoint.ws + STREAM_PATH
    try:
        return await connect(url, open_timeout=timeout, max_size=None, compression=None)
    except InvalidURI as exc:
        raise BadURL(f"bad server URL {endpoint.http!r}: {exc}") from None
    except InvalidStatus as exc:
        status = exc.response.status_code
        if status >= 500:  # a proxy whose server is away (restarting): not a refusal
            raise Disconnected(f"the server answered HTTP {status}") from None
        raise WebSocketRefused(f"the WebSocket upgrade was refused (HTTP {status})") from None
    except InvalidHandshake as exc:
        raise WebSocketRefused(f"the WebSocket upgrade failed: {exc}") from None
    except (OSError, TimeoutError) as exc:
        raise Disconnected(f"cannot connect to {endpoint.http}: {describe(exc)}") from None


async def websocket_frames(
    endpoint: Endpoint, token: str, since: int | None, timeout: float
) -> AsyncGenerator[Frame]:
    """Frames of a WebSocket stream opened with ``hello`` (token, ``since``)."""
    ws = await open_websocket(endpoint, timeout)
    try:
        await ws.send(orjson.dumps({"type": "hello", "token": token, "since": since}).decode())
        async for message in ws:
            for frame in split_frames(message):
                yield frame
    except ConnectionClosed as exc:
        rcvd = exc.rcvd
        raise closed_error(rcvd.code if rcvd else None, rcvd.reason if rcvd else "") from None
    except (OSError, TimeoutError) as exc:
        raise Disconnected(f"the connection failed: {describe(exc)}") from None
    except orjson.JSONDecodeError:
        raise Disconnected("the server sent a frame that is not JSON") from None
    finally:
        with contextlib.suppress(Exception):
            await ws.close()
    raise closed_error(ws.close_code, ws.close_reason or "")


async def sse_frames(
    http: httpx.AsyncClient, endpoint: Endpoint, token: str, since: int | None, timeout: float
) -> AsyncGenerator[Frame]:
    """Frames of ``/api/notifications/sse`` resuming after ``since``."""
    params = {"since": str(since)} if since is not None else {}
    try:
        async with aconnect_sse(
            http,
            "GET",
            endpoint.http + SSE_PATH,
            params=params,
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(timeout, read=60.0),
        ) as source:
            response = source.response
            if response.status_code != 200:
                await response.aread()
                raise _refusal(endpoint, response)
            try:
                async for event in source.aiter_sse():
                    if event.data:
                        value = orjson.loads(event.data)
                        if isinstance(value, dict):
                            yield value
            except SSEError as exc:
                raise BadURL(f"{endpoint.http} does not serve Grace's SSE stream: {exc}") from None
    except httpx.InvalidURL as exc:
        raise BadURL(f"bad server URL {endpoint.http!r}: {exc}") from None
    except httpx.TransportError as exc:
        raise Disconnected(f"cannot reach {endpoint.http}: {describe(exc)}") from None
    except orjson.JSONDecodeError:
        raise Disconnected("the server sent an event that is not JSON") from None
    raise Disconnected("the stream ended")


def _refusal(endpoint: Endpoint, response: httpx.Response) -> Exception:
    status = response.status_code
    code, message = _error_body(response)
    if status == 401:
        return Unauthenticated(message or "the server refused the token")
    if status == 404 and code is None:
        return BadURL(f"no Grace server at {endpoint.http} (HTTP 404)")
    if status == 429:
        return Crowded(f"too many streams open: {message or 'close another one'}")
    if status >= 500:
        return Disconnected(f"the server answered HTTP {status}: {message or 'try again later'}")
    if code is not None:
        return error_from(code, message)
    return BadURL(f"{endpoint.http} answered HTTP {status}: is it a Grace server?")


def _error_body(response: httpx.Response) -> tuple[str | None, str]:
    try:
        err = response.json()["error"]
        return str(err["code"]), str(err["message"])
    except (ValueError, KeyError, TypeError):
        return None, ""


def describe(exc: BaseException) -> str:
    text = str(exc) or exc.__class__.__name__
    return text if len(text) < 200 else text[:197] + "..."
