from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from grace.config import Settings
from tests.support import Running, serve


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The embedded set-up in a fresh data directory. The guardian watches no host metrics here
    (its own tests turn them on): a busy test machine must not page the default user."""
    return Settings(
        data_dir=tmp_path / "data",
        sqlite_synchronous="NORMAL",
        file={"guardian": {"metrics": []}},
    )


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[Running]:
    async with serve(settings) as running:
        yield running


@pytest.fixture(params=["native", "asgi"])
async def stream_server(
    settings: Settings, request: pytest.FixtureRequest
) -> AsyncIterator[Running]:
    """Grace served both ways the stream can be: natively by Grace's WebSocket protocol, and
    through the ASGI route as under any other ASGI server."""
    async with serve(settings, plain_asgi=request.param == "asgi") as running:
        yield running
