"""The stream's limits, on both drivers: close reasons that fit a close frame, connections and
commands per user, and a client that never reads."""

from __future__ import annotations

from typing import Any

import pytest
import websockets

from grace.config import Settings
from grace.protocol import MAX_CLOSE_REASON_BYTES, close_reason
from tests.support import Client, Running
from tests.test_ws_protocol import close_code, no_errors_logged


@pytest.fixture
def settings(tmp_path: Any) -> Settings:
    return Settings(data_dir=tmp_path / "data", sqlite_synchronous="NORMAL", hello_timeout=2.0)


# -- close reasons --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reason",
    [
        "",
        "short",
        "x" * MAX_CLOSE_REASON_BYTES,
        "x" * (MAX_CLOSE_REASON_BYTES + 1),
        "⪍鄵讲峩【" * 30,
        "🧪" * 40,
        "x" + "🧪" * 40,
        "xx" + "鄵" * 60,
        "lone \ud800 surrogate",
    ],
)
def test_a_close_reason_fits_a_close_frame_and_keeps_whole_characters(reason: str) -> None:
    cut = close_reason(reason)
    data = cut.encode()  # raises on anything UTF-8 cannot carry
    assert len(data) <= MAX_CLOSE_REASON_BYTES
    if len(reason.encode("utf-8", "replace")) <= MAX_CLOSE_REASON_BYTES:
        assert cut == reason.encode("utf-8", "replace").decode()
    else:
        assert cut.endswith("…") and reason.startswith(cut[:-1])
        assert len(data) >= MAX_CLOSE_REASON_BYTES - 3  # as much as fits, less a split character


@pytest.mark.parametrize(
    "first",
    [
        '{"type":"⪍鄵讲峩【"}',
        '{"type":"' + "🧪" * 10 + '"}',
        '{"type":"' + "鄵" * 40 + '", "id": "' + "鄵" * 40 + '"}',
        '{"type":"hello","token":"' + "鄵" * 100 + '"}',
        '{"type":"hello","token":"t","since":"' + "鄵" * 100 + '"}',
    ],
)
async def test_a_non_ascii_error_before_login_closes_4401_with_a_reason_cut_to_fit(
    stream_server: Running, caplog: pytest.LogCaptureFixture, first: str
) -> None:
    with no_errors_logged(caplog):
        async with Client.connect(stream_server, hello=False) as c:
            await c.send(first)
            error = await c.expect("error")
            assert error["code"] in {"unknown_command", "unauthenticated", "bad_request"}
            assert await close_code(c) == 4401
            assert c.ws.close_reason is not None
            reason = c.ws.close_reason.encode()
            assert len(reason) <= MAX_CLOSE_REASON_BYTES
            assert error["message"].startswith(c.ws.close_reason.removesuffix("…"))
    # the server goes on: the next connection is served
    async with Client.connect(stream_server, "ann") as c:
        welcome, _, _ = await c.welcome()
        assert welcome["user_id"] == "ann"


async def test_many_bad_first_frames_write_no_traceback(
    stream_server: Running, caplog: pytest.LogCaptureFixture
) -> None:
    with no_errors_logged(caplog):
        for i in range(20):
            async with websockets.connect(stream_server.ws_url) as ws:
                await ws.send('{"type":"' + chr(0x4E00 + i) * 50 + '"}')
                c = Client(ws)
                assert (await c.expect("error"))["code"] == "unknown_command"
                assert await close_code(c) == 4401
