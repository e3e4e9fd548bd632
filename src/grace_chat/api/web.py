"""The bundled web chat: ``/`` (and ``/admin``, the operator view) serve ``index.html``,
``/assets/*`` the built bundle.

The bundle names its assets by relative paths, and ``index.html`` goes out with
``<meta name="grace-api" content="...">``, the path of Grace's API (empty: the site's root), so
the chat works wherever it is mounted (``grace_chat.api.embed``).

The bundle is built from ``web/`` by Vite and committed in ``grace_chat/web_dist`` so that
``grace serve`` needs no Node.js; ``scripts/test-web`` fails when the committed bundle is stale.
``index.html`` is never cached (it names the hashed assets) and goes out with a strict
Content-Security-Policy and no referrer, so the login token in ``/?token=…`` never leaks.
"""

from __future__ import annotations

import html
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


def api_meta(api_base: str) -> bytes:
    """The tag that tells the chat where Grace's API is."""
    return f'<meta name="grace-api" content="{html.escape(api_base.rstrip("/"))}" />'.encode()


def mount_web(app: FastAPI, dist: Path = WEB_DIST, *, api_base: str = "") -> None:
    """Serve the web chat at ``/`` of ``app`` (a no-op for the API when the bundle is absent),
    its API at ``api_base`` (a path: ``""`` is the site's root, ``"/grace"`` a prefix)."""
    index = dist / "index.html"

    @app.get("/", include_in_schema=False)
    @app.get("/admin", include_in_schema=False)  # the operator view (its data: api/admin.py)
    async def page() -> Response:
        if not index.is_file():
            return HTMLResponse(MISSING, status_code=503, headers=PAGE_HEADERS)
        body = index.read_bytes().replace(b"<head>", b"<head>" + api_meta(api_base), 1)
        return HTMLResponse(body, headers=PAGE_HEADERS)

    assets = dist / "assets"
    if assets.is_dir():
        app.mount("/assets", StaticFiles(directory=assets), name="web-assets")
