from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from grace_chat.config import Settings
from tests.support import Running, serve
from tests.support.postgres import new_schema, run_database
from tests.support.redis import new_prefix, require_redis

#: The store engines a test marked ``engines`` runs against, each in its own parametrization.
ENGINES = ("sqlite", "postgres")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marked = metafunc.definition.get_closest_marker("engines")
    only_sqlite = metafunc.definition.get_closest_marker("sqlite_only")
    if "engine" in metafunc.fixturenames and marked and not only_sqlite:
        metafunc.parametrize("engine", ENGINES, indirect=True)


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """The URL of this run's own PostgreSQL database (skips, or fails under CI, without one)."""
    yield from run_database()


@pytest.fixture
def postgres_url(postgres_database: str) -> str:
    """A URL that puts Grace in a schema of its own in the run's database."""
    return new_schema(postgres_database)


@pytest.fixture
def redis_url() -> str:
    """The test Redis server's URL (skips, or fails under CI, without one)."""
    return require_redis()


@pytest.fixture
def redis_prefix() -> str:
    """A channel prefix of this test's own on the shared Redis server."""
    return new_prefix()


@pytest.fixture
def engine(request: pytest.FixtureRequest) -> str:
    """The store engine: SQLite unless the test is marked ``engines`` (then each in turn)."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
def database_url(engine: str, request: pytest.FixtureRequest) -> str | None:
    """``None`` for the embedded default, else a fresh PostgreSQL schema's URL."""
    if engine == "sqlite":
        return None
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None) -> Settings:
    """A fresh data directory (and, for a test marked ``engines``, each store engine in turn).
    The guardian watches no host metrics here (its own tests turn them on): a busy test machine
    must not page the default user."""
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
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
