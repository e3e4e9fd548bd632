"""Commands over REST: what the client uses when no WebSocket can be opened (a proxy refusing
upgrades, or ``transport="sse"``), as protocol v1 says SSE clients do.

Guarantees: each command goes to the REST route that dispatches the same protocol command on the
server (``api/rest_control.py``, ``api/rest.py``, ``api/learning.py``, ``api/chat.py``), and its
answer comes back shaped as the WebSocket's reply frame, so callers cannot tell the doors apart;
an error body raises the typed error of its code. ``ping`` asks ``/api/session`` (who the token
is); ``ack`` records a connection's position, which has no meaning without a connection: it is
answered here.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from grace_chat.client.transport import Endpoint, Frame, describe
from grace_chat.errors import ConnectionLost, Disconnected, GraceError, error_from


class RestCommands:
    def __init__(self, http: httpx.AsyncClient, endpoint: Endpoint, token: str, timeout: float):
        self.http = http
        self.base = endpoint.http
        self.headers = {"Authorization": f"Bearer {token}"}
        self.timeout = timeout
        self.acked = 0

    async def call(self, command: dict[str, Any]) -> Frame:
        name = command["type"]
        match name:
            case "ping":
                await self._send("GET", "/api/session")  # answers only a valid token
                return {"type": "pong"}
            case "ack":
                self.acked = max(self.acked, int(command["seq"]))
                return {"type": "acked", "seq": self.acked}
            case "mark_read":
                body = {k: command[k] for k in ("ids", "up_to_seq", "all") if k in command}
                marked = await self._send("POST", "/api/notifications/read", json=body)
                return {
                    "type": "read",
                    "ids": command.get("ids") or [],
                    "up_to_seq": command.get("up_to_seq"),
                    "all": command.get("all", False),
                    **marked,
                }
            case "list_tasks":
                include = "true" if command.get("include_finished", True) else "false"
                listing = await self._send(
                    "GET", "/api/tasks", params={"include_finished": include}
                )
                return {"type": "task_list", **listing}
            case "start_task":
                start = {k: command[k] for k in ("task_type", "params", "task_id") if k in command}
                return {"type": "task", "task": await self._send("POST", "/api/tasks", json=start)}
            case "cancel_task" | "pause_task" | "resume_task":
                action = name.removesuffix("_task")
                path = f"/api/tasks/{_part(command['task_id'])}/{action}"
                return {"type": "task", "task": await self._send("POST", path)}
            case "task_logs":
                path = f"/api/tasks/{_part(command['task_id'])}/logs"
                logs = await self._send("GET", path, params={"limit": command.get("limit", 200)})
                return {"type": "task_logs", **logs}
            case "pause_learning" | "resume_learning":
                path = f"/api/learning/{name.removesuffix('_learning')}"
                scope = {"scope": command.get("scope", "own")}
                return {"type": "learning", **await self._send("POST", path, params=scope)}
            case "approve" | "reject":
                path = f"/api/approvals/{_part(command['approval_id'])}/{name}"
                decided = await self._send("POST", path, json={"reason": command.get("reason")})
                return {"type": "approval", **decided}
            case "status":
                return {"type": "status", **await self._send("GET", "/api/status")}
            case "chat":
                reply = await self._send(
                    "POST", "/api/unified/chat", json={"text": command["text"]}
                )
                return {"type": "chat_reply", **reply}
        raise GraceError(f"{name} has no REST route")

    async def _send(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = await self.http.request(
                method, self.base + path, headers=self.headers, timeout=self.timeout, **kwargs
            )
        except httpx.TimeoutException:
            raise ConnectionLost("no answer in time: the command may or may not have run") from None
        except httpx.TransportError as exc:
            raise Disconnected(f"cannot reach {self.base}: {describe(exc)}") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 400:
            error = body.get("error") if isinstance(body, dict) else None
            if isinstance(error, dict) and "code" in error:
                raise error_from(error["code"], error.get("message", ""))
            raise GraceError(f"the server answered HTTP {response.status_code}")
        if not isinstance(body, dict):
            raise GraceError("the server's answer is not a JSON object")
        body.pop("type", None)
        return body


def _part(value: object) -> str:
    return quote(str(value), safe="")
