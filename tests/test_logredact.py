"""No credential reaches a log line: the redaction itself, the filter on real loggers and
formatters (uvicorn's access log among them), and the debug log of a real ``grace serve``."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets
from uvicorn.logging import AccessFormatter

from grace_chat.auth import TokenAuthority
from grace_chat.logredact import REDACTED, RedactFilter, install, redact
from tests.support.grace_process import grace_serve, until

JWT = TokenAuthority("s" * 48, 3600).issue("alice", admin=True)


def test_a_token_in_a_query_string_is_redacted() -> None:
    assert redact(f"GET /?token={JWT} HTTP/1.1") == f"GET /?token={REDACTED} HTTP/1.1"
    assert redact("/api/x?since=3&access_token=opaque-123&limit=5") == (
        f"/api/x?since=3&access_token={REDACTED}&limit=5"
    )


def test_a_bearer_credential_is_redacted() -> None:
    assert redact("authorization: Bearer opaque.value-1") == f"authorization: Bearer {REDACTED}"
    headers = {"Authorization": "Bearer abc123"}
    assert redact(repr(headers)) == repr({"Authorization": f"Bearer {REDACTED}"})


def test_a_jwt_anywhere_is_redacted() -> None:
    assert redact(f"cookie: grace_session={JWT}; theme=dark") == (
        f"cookie: grace_session={REDACTED}; theme=dark"
    )
    assert JWT not in redact(f"signed {JWT}.")


def test_a_token_field_of_logged_json_is_redacted() -> None:
    frame = json.dumps({"type": "hello", "token": "not-a-jwt-but-secret", "since": 4})
    assert redact(frame) == f'{{"type": "hello", "token": "{REDACTED}", "since": 4}}'


def test_text_without_credentials_is_left_alone() -> None:
    for text in (
        "token expired",
        "send 'Authorization: Bearer <token>'",
        "GET /api/notifications?since=4&limit=100 HTTP/1.1",
        "task task_0d1f finished: exit code 0",
        "eyJust a word",
    ):
        assert redact(text) == text


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger of its own whose handler writes to a string, with the filter ``install`` adds."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("test.logredact")
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    install()
    try:
        yield logger, out
    finally:
        logger.handlers = []
        for some in [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]:
            for h in getattr(some, "handlers", []):
                for f in [f for f in h.filters if isinstance(f, RedactFilter)]:
                    h.removeFilter(f)


def test_install_filters_the_handlers_already_configured(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, out = captured
    logger.info("hello frame %s from %r", {"token": JWT}, f"/?token={JWT}")
    logger.debug("header %s", {"authorization": "Bearer opaque-secret-1"})
    logger.warning("seq %d of %s took %.1f ms", 42, "alice", 1.5)
    text = out.getvalue()
    assert JWT not in text and "opaque-secret-1" not in text
    assert text.count(REDACTED) == 3
    assert "seq 42 of alice took 1.5 ms" in text  # numbers still format as numbers


def test_a_traceback_is_redacted(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, out = captured
    try:
        raise RuntimeError(f"upstream refused Authorization: Bearer {JWT}")
    except RuntimeError:
        logger.exception("call failed")
    text = out.getvalue()
    assert "Traceback" in text and "RuntimeError: upstream refused" in text
    assert JWT not in text


def test_uvicorns_access_log_is_redacted_and_still_formatted() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", f"/?token={JWT}", "1.1", 200),
        None,
    )
    assert RedactFilter().filter(record)
    line = AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s').format(record)
    assert line == f'127.0.0.1:5000 - "GET /?token={REDACTED} HTTP/1.1" 200 OK'


async def test_the_debug_log_of_grace_serve_holds_no_token(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    access_log = {"GRACE_ACCESS_LOG": "1"}
    async with grace_serve(data_dir, log_level="debug", env=access_log) as server:
        token = server.token
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
            assert (await http.get("/", params={"token": token})).status_code == 200
            response = await http.get(
                "/api/notifications",
                params={"access_token": token},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert response.status_code == 200
        ws_url = server.url.replace("http://", "ws://") + "/api/notifications/stream"
        async with websockets.connect(
            f"{ws_url}?token={token}", additional_headers={"Cookie": f"grace_session={token}"}
        ) as ws:
            await ws.send(json.dumps({"type": "hello", "token": token}))
            assert json.loads(str(await ws.recv()).split("\n")[0])["type"] == "welcome"
        await until(
            lambda: any(
                "GET /api/notifications?access_token=" in line for line in server.out + server.err
            ),
            10,
            "the access log line",
        )
        server.proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(server.exited(), 20)

    banner, *rest = server.out
    assert token in banner  # the login link is the point of the banner
    assert "secret" in rest[0]
    logged = rest + server.err
    assert [line for line in logged if token in line] == []
    text = "\n".join(logged)
    for seen in (
        f'"GET /?token={REDACTED} HTTP/1.1" 200',
        f'"GET /api/notifications?access_token={REDACTED} HTTP/1.1" 200',
        f"GET /api/notifications/stream?token={REDACTED}",
        f'"token": "{REDACTED}"',  # the hello frame, in the WebSocket debug log
    ):
        assert seen in text, f"{seen!r} not logged"
