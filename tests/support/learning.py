"""Helpers for the learning tests: documents made on the spot, and a server with learning."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fpdf import FPDF

from grace_chat.app import Grace
from grace_chat.config import Settings
from grace_chat.learning import LearningSupervisor
from tests.support import Frame, Running, serve


def make_pdf(*pages: str) -> bytes:
    """A real PDF with one page per argument (an empty string makes a page without text)."""
    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for text in pages:
        pdf.add_page()
        if text:
            pdf.multi_cell(0, 8, text)
    return bytes(pdf.output())


SPEC_PDF = make_pdf(
    "CRM API Specification. The customers endpoint returns paginated customer records "
    "sorted by creation date. Authentication uses bearer tokens issued by the identity service.",
    "Rate limits: every token may send one hundred requests per minute; the server answers "
    "429 with a Retry-After header when a client exceeds its quota.",
)

GUIDE_MD = b"""# Deployment guide

Deployments roll out **canary** instances first, then the remaining fleet.

## Rollback

If the canary health checks fail, the orchestrator performs an automatic *rollback* to the
previous release and pages the on-call engineer.
"""

FAQ_HTML = b"""<!doctype html>
<html><head><title>Billing FAQ</title><style>p { color: red }</style>
<script>var tracking = "invisiblescripttoken";</script></head>
<body><h1>Billing FAQ</h1>
<p>Invoices are generated on the first business day of each month and sent by email.</p>
<p>Refunds for annual subscriptions are prorated to the remaining <b>quarter</b>.</p>
</body></html>
"""


def learning_settings(settings: Settings, **learning: Any) -> Settings:
    return settings.with_(file={**settings.file, "learning": learning})


@asynccontextmanager
async def learning_server(
    settings: Settings, *, chat: bool = False
) -> AsyncIterator[tuple[Running, LearningSupervisor]]:
    grace = Grace(settings, systems={"learning", "chat"} if chat else {"learning"})
    supervisor = grace.learning
    assert supervisor is not None
    async with serve(settings, grace) as srv:
        yield srv, supervisor


async def job_state(srv: Running, task_id: str, user: str = "user") -> dict[str, Any]:
    async with srv.http() as http:
        response = await http.get(f"/api/learning/jobs/{task_id}", headers=srv.auth(user))
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def finished(
    srv: Running, task_id: str, user: str = "user", timeout: float = 15.0
) -> dict[str, Any]:
    """Poll a learning job over REST until it is finished; returns its final view."""
    view: dict[str, Any] = {}

    async def check() -> bool:
        nonlocal view
        view = await job_state(srv, task_id, user)
        return view["state"] in {"succeeded", "failed", "cancelled", "interrupted"}

    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"learning job {task_id} did not finish: {view}")
        await asyncio.sleep(0.02)
    return view


async def search(srv: Running, q: str, user: str = "user", limit: int = 10) -> list[Frame]:
    async with srv.http() as http:
        response = await http.get(
            "/api/knowledge/search", params={"q": q, "limit": limit}, headers=srv.auth(user)
        )
    assert response.status_code == 200, response.text
    results: list[Frame] = response.json()["results"]
    return results
