"""PostgreSQL for the tests: one database per test run (created, then dropped), one schema per
test inside it, so runs and tests never see each other's rows.

The server is ``GRACE_TEST_POSTGRES_URL`` (default: the local one, user ``postgres``, database
``test``, which the run only uses to create and drop its own). Where no server answers, or the
driver is missing, the PostgreSQL tests skip and say why, except under CI (``CI=true``), where
that is a failure: CI must not pass by testing one engine. This module is the only place that
decides it.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, NoReturn, TypeVar
from urllib.parse import quote

import pytest

T = TypeVar("T")

ADMIN_URL = os.environ.get("GRACE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
_schemas = itertools.count(1)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def unavailable(reason: str) -> NoReturn:
    """Skip, or under CI fail, a test that needs PostgreSQL."""
    if in_ci():
        pytest.fail(f"PostgreSQL is required under CI and {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL tests skipped: {reason} (set GRACE_TEST_POSTGRES_URL)")


def run_sync(fn: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion on a loop of its own, in a thread of its own (so that it
    never touches the loop of the test that asked)."""
    result: list[T] = []
    error: list[BaseException] = []

    def main() -> None:
        try:
            result.append(asyncio.run(fn()))  # type: ignore[arg-type]
        except BaseException as exc:
            error.append(exc)

    thread = threading.Thread(target=main)
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


async def admin(sql: str, url: str = ADMIN_URL) -> None:
    import asyncpg

    conn = await asyncpg.connect(url, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def database_url(name: str) -> str:
    head = ADMIN_URL.partition("?")[0].rpartition("/")[0]
    return f"{head}/{name}"


def with_schema(url: str, schema: str) -> str:
    """``url`` with ``search_path`` set to ``schema`` (libpq's ``options``, as asyncpg reads it)."""
    return f"{url}?options={quote(f'-csearch_path={schema}')}"


def run_database() -> Iterator[str]:
    """The test run's database: created on first use, dropped when the run ends."""
    try:
        import asyncpg  # noqa: F401
    except ImportError:
        unavailable("the asyncpg driver is not installed (scripts/setup installs it)")
    name = f"grace_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        run_sync(lambda: admin(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        unavailable(f"no PostgreSQL server answered at {ADMIN_URL}: {exc}")
    try:
        yield database_url(name)
    finally:
        run_sync(lambda: admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def new_schema(database: str) -> str:
    """A fresh schema in the run's database; returns the URL that puts Grace in it."""
    schema = f"t{next(_schemas)}_{uuid.uuid4().hex[:6]}"
    run_sync(lambda: admin(f'CREATE SCHEMA "{schema}"', database))
    return with_schema(database, schema)


async def sql(url: str, statement: str, *args: Any) -> list[Any]:
    """Rows of one statement on ``url`` (tests that look under a store)."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        return list(await conn.fetch(statement, *args))
    finally:
        await conn.close()
