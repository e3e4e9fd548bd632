"""``GET /metrics``: the Prometheus exposition of this process's ``Grace`` (``grace_chat.metrics``).

Who may read it: a client whose address is in ``metrics_allow`` (``GRACE_METRICS_ALLOW``,
loopback by default), or any client presenting an admin token (``grace token --admin``) as a
Bearer token or session cookie. Anyone else is answered 403 ``forbidden``; a token that is not
valid, 401 ``unauthenticated``. Behind a reverse proxy on the same host, the address is the
client's as the proxy's ``X-Forwarded-For`` names it (uvicorn trusts it from loopback only).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from grace_chat.api.openapi import ErrorBody
from grace_chat.auth import Authenticator
from grace_chat.config import Settings
from grace_chat.errors import Forbidden
from grace_chat.metrics import Metrics

METRICS_PATH = "/metrics"


def build_operations_router(metrics: Metrics, auth: Authenticator, settings: Settings) -> APIRouter:
    router = APIRouter(tags=["operations"])
    refused: dict[int | str, dict[str, Any]] = {
        401: {"model": ErrorBody, "description": "The token given is not valid"},
        403: {
            "model": ErrorBody,
            "description": "Neither an admin token nor a client address in metrics_allow",
        },
    }

    @router.get(
        METRICS_PATH,
        response_class=Response,
        summary="Prometheus metrics (admin token, or a client address in metrics_allow)",
        responses={
            200: {
                "content": {CONTENT_TYPE_LATEST: {}},
                "description": "The Prometheus text exposition format",
            },
            **refused,
        },
    )
    async def scrape(request: Request) -> Response:
        address = request.client.host if request.client is not None else None
        if not settings.metrics_allowed(address):
            who = auth.identify(
                request.headers.get("authorization"), request.cookies.get(auth.cookie_name), None
            )
            if who is None or not who.admin:
                raise Forbidden(
                    "reading the metrics needs an admin token (grace token --admin) or a client "
                    "address in GRACE_METRICS_ALLOW"
                )
        return Response(await metrics.render(), media_type=CONTENT_TYPE_LATEST)

    return router
