"""The bundled web chat: ``/`` (and ``/admin``, the operator view) serve ``index.html``,
``/assets/*`` the built bundle.

The bundle is built from ``web/`` by Vite and committed in ``grace_chat/web_dist`` so that
``grace serve`` needs no Node.js; ``scripts/test-web`` fails when the committed bundle is stale.
``index.html`` is never cached (it names the hashed assets) and goes out with a strict
Content-Security-Policy and no referrer, so the login token in ``/?token=…`` never leaks.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles

WEB_DIST = Path(__file__).resolve().parent.parent / "web_dist"

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
MISSING = (
    "<!doctype html><title>Grace</title><p>The web chat is not built. Run "
    "<code>cd web &amp;&amp; npm ci &amp;&amp; npm run build</code>, or use the API directly.</p>"
)


def mount_web(app: FastAPI, dist: Path = WEB_DIST) -> None:
    """Serve the web chat at ``/`` (a no-op for the API when the bundle is absent)."""
    index = dist / "index.html"

    @app.get("/", include_in_schema=False)
    @app.get("/admin", include_in_schema=False)  # the operator view (its data: api/admin.py)
    async def page() -> Response:
        if not index.is_file():
            return HTMLResponse(MISSING, status_code=503, headers=PAGE_HEADERS)
        return HTMLResponse(index.read_bytes(), headers=PAGE_HEADERS)

    assets = dist / "assets"
    if assets.is_dir():
        app.mount("/assets", StaticFiles(directory=assets), name="web-assets")
