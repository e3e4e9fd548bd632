"""``grace demo``: the scripted scenario a newcomer watches, run for real (quickly)."""

from __future__ import annotations

from pathlib import Path

import websockets

from tests.support import Client
from tests.support.processes import RUNNING, grace

EXPECTED = {
    "Deployment failed: exit code 1: Connection timeout",
    "Auto-healing deployment failure (rollback strategy)",
    "Healing complete: Rolled back to version v2.0.5",
    "Learning supervisor wants to modify config.yaml",
    "Ingested CRM_API_Spec.md, trust 0.95",
    "Health check payments-api failed: connection refused",
}


async def watch_demo(data_dir: Path, mission: str) -> list[str]:
    """Run ``grace demo`` quickly and collect what the chat shows until the scenario is done."""
    expected = EXPECTED | {f"Mission {mission} completed"}
    async with grace(
        "demo", "--port", "0", "--data-dir", str(data_dir), "--pace", "0.05",
        "--log-level", "warning",
    ) as proc:  # fmt: skip
        found = await proc.line(RUNNING.pattern)
        ws_url = found[1].replace("http://", "ws://") + "/api/notifications/stream"
        async with websockets.connect(ws_url) as ws:
            client = Client(ws)
            await client.send({"type": "hello", "token": found[3]})
            await client.welcome()
            messages: list[str] = []
            while not set(messages) >= expected:
                (frame,) = await client.notifications(1, timeout=30)
                messages.append(frame["message"])
    return messages


async def test_demo_plays_its_scenario_once_someone_watches_and_again_next_time(
    tmp_path: Path,
) -> None:
    messages = await watch_demo(tmp_path, "mission_123")
    assert messages.index("Deployment failed: exit code 1: Connection timeout") < messages.index(
        "Healing complete: Rolled back to version v2.0.5"
    )
    # scripts/serve run a second time: same data directory, the scenario plays again
    again = await watch_demo(tmp_path, "mission_123_2")
    assert "Deployment task started: deploy_456_2" in again
