"""Baseline 2: python-socketio (ASGI, under uvicorn) with one room per user.

A client connects to ``/socket.io/?EIO=4&transport=websocket&user_id=U``; its connect handler
joins room ``U`` (before the server acknowledges the connect); ``notify_user`` emits the seed's
notification dict as event ``notification`` to the room.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

import socketio
from starlette.applications import Starlette

from bench.common import BADGE, MESSAGE, NOTIFICATION_TYPE, Publisher, control_routes, serve_uvicorn
from bench.common import stamp as _stamp

sio = socketio.AsyncServer(async_mode="asgi", logger=False, engineio_logger=False)


@sio.event
async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
    query = parse_qs(environ.get("QUERY_STRING", ""))
    await sio.enter_room(sid, query.get("user_id", ["user"])[0])


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
    await sio.emit("notification", notification, room=user_id)


class SocketIOSink:
    async def one(self, user: str, k: int) -> None:
        await notify_user(user, NOTIFICATION_TYPE, MESSAGE, BADGE, _stamp(k))

    async def many(self, users: list[str], k: int) -> None:
        data = _stamp(k)
        for user in users:
            await notify_user(user, NOTIFICATION_TYPE, MESSAGE, BADGE, data)


app = socketio.ASGIApp(
    sio, other_asgi_app=Starlette(routes=control_routes(Publisher(SocketIOSink())))
)

if __name__ == "__main__":
    serve_uvicorn(app)
