"""Baseline 1: the seed's own design, as its ``notifications_api.py`` shows it.

A FastAPI WebSocket endpoint taking ``?user_id=``, ``active_connections: dict[user, list[ws]]``,
and a ``notify_user`` that builds the notification dict and awaits ``send_json`` on each of the
user's sockets in turn. The only additions are for the harness: a ``welcome`` frame once the socket
is registered (so the load generator knows when it may publish), a ``pong`` to ``ping``, ``data``
in the frame, and the loopback control API.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

from bench.common import BADGE, MESSAGE, NOTIFICATION_TYPE, Publisher, control_routes, serve_uvicorn
from bench.common import stamp as _stamp

app = FastAPI()
active_connections: dict[str, list[WebSocket]] = {}


@app.websocket("/api/notifications/stream")
async def notification_stream(websocket: WebSocket, user_id: str = "user") -> None:
    await websocket.accept()
    active_connections.setdefault(user_id, []).append(websocket)
    await websocket.send_json({"type": "welcome", "user_id": user_id})
    try:
        while True:
            message = await websocket.receive_json()
            if message.get("type") == "ping":
                await websocket.send_json({"type": "pong"})
    except WebSocketDisconnect:
        pass
    finally:
        active_connections[user_id].remove(websocket)
        if not active_connections[user_id]:
            del active_connections[user_id]


async def notify_user(
    user_id: str,
    notification_type: str,
    message: str,
    badge: str = "🤖",
    data: dict[str, Any] | None = None,
) -> None:
    notification = {
        "type": notification_type,
        "message": message,
        "badge": badge,
        "timestamp": datetime.now().isoformat(),
        "data": data or {},
    }

    # Send to all active WebSocket connections for this user
    for ws in active_connections.get(user_id, []):
        await ws.send_json(notification)


class SeedSink:
    async def one(self, user: str, k: int) -> None:
        await notify_user(user, NOTIFICATION_TYPE, MESSAGE, BADGE, _stamp(k))

    async def many(self, users: list[str], k: int) -> None:
        data = _stamp(k)
        for user in users:
            await notify_user(user, NOTIFICATION_TYPE, MESSAGE, BADGE, data)


for _route in control_routes(Publisher(SeedSink())):
    app.router.routes.append(_route)

if __name__ == "__main__":
    serve_uvicorn(app)
