"""``grace serve`` serves the bundled web chat at ``/`` with no Node.js at run time."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from fastapi import FastAPI

from grace_chat.api.web import WEB_DIST, mount_web
from tests.support import Running


async def test_the_page_and_its_assets_are_served(server: Running) -> None:
    async with server.http() as http:
        page = await http.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert page.headers["cache-control"] == "no-store"
        assert page.headers["referrer-policy"] == "no-referrer"
        assert "default-src 'self'" in page.headers["content-security-policy"]
        # relative asset paths, and where the API is: the page works at any path
        assert '<meta name="grace-api" content="" />' in page.text
        assets = re.findall(r'(?:src|href)="\./(assets/[^"]+)"', page.text)
        assert any(a.endswith(".js") for a in assets)
        assert not re.findall(r'(?:src|href)="/', page.text)
        for asset in assets:
            response = await http.get(f"/{asset}")
            assert response.status_code == 200, asset
            assert len(response.content) > 0
        # the API is untouched by the page's routes
        assert (await http.get("/api/protocol")).status_code == 200
        assert (await http.get("/assets/nope.js")).status_code == 404


async def test_the_operator_view_is_the_same_page_with_the_same_headers(server: Running) -> None:
    async with server.http() as http:
        chat, admin = await http.get("/"), await http.get("/admin")
    assert admin.status_code == 200
    assert admin.text == chat.text
    for header in ("content-security-policy", "referrer-policy", "cache-control"):
        assert admin.headers[header] == chat.headers[header]


def test_the_bundle_ships_in_the_package() -> None:
    assert (WEB_DIST / "index.html").is_file()
    assert list((WEB_DIST / "assets").glob("*.js"))


async def test_a_missing_bundle_says_how_to_build_it(tmp_path: Path) -> None:
    app = FastAPI()
    mount_web(app, tmp_path / "none")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as http:
        response = await http.get("/")
    assert response.status_code == 503
    assert "npm run build" in response.text
