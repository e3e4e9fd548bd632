"""The application object: lifecycle, and what a failed start leaves behind (nothing)."""

from __future__ import annotations

import pytest

from grace_chat import Grace, Settings, notify_user


class Broken:
    name = "broken"

    async def start(self) -> None:
        raise RuntimeError("cannot reach the cluster")

    async def stop(self) -> None:
        raise AssertionError("never started, so never stopped")


async def test_a_failed_start_stops_what_had_started(settings: Settings) -> None:
    grace = Grace(settings)
    grace.add_component(Broken())
    with pytest.raises(RuntimeError, match="cannot reach the cluster"):
        await grace.start()
    assert not grace.started
    with pytest.raises(RuntimeError, match="no running Grace"):
        notify_user(user_id="u", notification_type="test", message="x")
    # the store was closed and its lock released: the same data directory opens again
    async with Grace(settings) as again:
        stored = await again.notify_user("u", "test", "after a failed start")
    assert stored.seq == 1


async def test_components_cannot_be_added_to_a_running_application(settings: Settings) -> None:
    async with Grace(settings, systems=False) as grace:
        with pytest.raises(RuntimeError, match="before the application starts"):
            grace.add_component(Broken())
