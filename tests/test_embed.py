"""Grace mounted into a host's FastAPI app (``grace_chat.api.embed``), served by stock uvicorn on
loopback: the host keeps its own answers (its 422 and 404 shapes, its ``/api/health``, its
OpenAPI document, its own JWT auth) byte for byte; Grace answers under the prefix, identifying
callers by the host's JWT (RS256, keys from the host's own JWKS URL) on every door."""

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import httpx
import jwt
import pytest
import uvicorn
import websockets
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from jwt.algorithms import RSAAlgorithm
from websockets.exceptions import ConnectionClosed

from grace_chat.api.app import create_app
from grace_chat.api.embed import embed, mount_grace
from grace_chat.api.hostjwt import HostJWT
from grace_chat.api.server import base_url, listen, make_server
from grace_chat.app import Grace
from grace_chat.config import Settings
from tests.support import Client, error_body, until
from tests.support.sse import SSEStream

ISSUER = "https://host.example"
AUDIENCE = "host-app"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def host_token(user: str, *, ttl: int = 600, key: Any = KEY, issuer: str = ISSUER) -> str:
    now = int(time.time())
    claims = {"sub": user, "iss": issuer, "aud": AUDIENCE, "iat": now, "exp": now + ttl}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "host-1"})


def host_app(events: list[str]) -> FastAPI:
    """The host: its own lifespan, routes, error shapes, JWKS and JWT-protected route."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        events.append("host up")
        yield
        events.append("host down")

    app = FastAPI(title="Host", lifespan=lifespan)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"host_problem": "invalid input"}, status_code=422)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"host_problem": exc.detail}, status_code=exc.status_code)

    def who(authorization: Annotated[str, Header()] = "") -> str:
        try:
            claims = jwt.decode(
                authorization.removeprefix("Bearer "),
                KEY.public_key(),
                algorithms=["RS256"],
                audience=AUDIENCE,
                issuer=ISSUER,
            )
        except jwt.PyJWTError:
            raise HTTPException(401, "host says no") from None
        return str(claims["sub"])

    @app.get("/api/health")
    async def health() -> dict[str, str]:
        return {"host": "fine"}

    @app.get("/items/{number}")
    async def item(number: int) -> dict[str, int]:
        return {"number": number}

    @app.get("/me")
    async def me(user: Annotated[str, Depends(who)]) -> dict[str, str]:
        return {"me": user}

    @app.get("/.well-known/jwks.json")
    async def jwks() -> dict[str, Any]:
        public = RSAAlgorithm.to_jwk(KEY.public_key(), as_dict=True)
        return {"keys": [{**public, "kid": "host-1", "use": "sig", "alg": "RS256"}]}

    return app


@dataclass
class Hosted:
    url: str
    grace: Grace | None
    events: list[str]

    def auth(self, user: str, **kwargs: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {host_token(user, **kwargs)}"}

    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=10)


@asynccontextmanager
async def hosted(
    tmp_path: Path, *, with_grace: bool = True, **options: Any
) -> AsyncIterator[Hosted]:
    """The host app on a loopback port under stock uvicorn, Grace mounted at ``/grace``."""
    sock = listen("127.0.0.1", 0)
    url = base_url("127.0.0.1", sock.getsockname()[1])
    events: list[str] = []
    app = host_app(events)
    grace = None
    if with_grace:
        identity = HostJWT(
            issuer=ISSUER,
            audience=AUDIENCE,
            algorithms=["RS256"],
            jwks_url=f"{url}/.well-known/jwks.json",
            cookie="host_session",
        )
        settings = Settings(data_dir=tmp_path / "grace", log_level="warning")
        systems = options.pop("systems", {"chat", "learning"})
        grace = embed(app, settings, systems=systems, identity=identity, **options)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await until(lambda: server.started or task.done(), 10, "server start")
        if task.done():
            task.result()
        yield Hosted(url, grace, events)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


HOST_REQUESTS = [
    ("GET", "/api/health", {}),
    ("GET", "/items/7", {}),
    ("GET", "/items/seven", {}),  # the host's own 422 shape
    ("GET", "/nowhere", {}),  # the host's own 404 shape
    ("GET", "/grace-like", {}),
    ("POST", "/api/health", {}),  # the host's own 405
    ("GET", "/me", {}),
    ("GET", "/openapi.json", {}),
]


async def host_answers(hosted: Hosted) -> list[tuple[int, list[tuple[str, str]], bytes]]:
    answers = []
    async with hosted.http() as http:
        for method, path, headers in HOST_REQUESTS:
            response = await http.request(method, path, headers=headers)
            kept = [(k, v) for k, v in response.headers.items() if k != "date"]
            answers.append((response.status_code, kept, response.content))
        me = await http.get("/me", headers=hosted.auth("alice"))
        answers.append((me.status_code, [], me.content))
    return answers


async def test_the_host_answers_byte_for_byte_as_without_grace(tmp_path: Path) -> None:
    async with hosted(tmp_path, with_grace=False) as alone:
        before = await host_answers(alone)
    async with hosted(tmp_path) as shared:
        after = await host_answers(shared)
        async with shared.http() as http:
            # Grace answers under its prefix, with its own envelope and its own OpenAPI
            assert (await http.get("/grace/api/health")).json()["status"] == "ok"
            error_body(await http.get("/grace/api/nowhere"), 404, "not_found")
            error_body(await http.get("/grace/api/notifications?limit=x"), 401, "unauthenticated")
            grace_doc = (await http.get("/grace/openapi.json")).json()
            swagger = await http.get("/grace/docs")  # Swagger UI reads Grace's own document
            assert swagger.status_code == 200 and "/grace/openapi.json" in swagger.text
    assert after == before
    host_doc = json.loads(before[-2][2])
    assert set(host_doc["paths"]) == {
        "/api/health",
        "/items/{number}",
        "/me",
        "/.well-known/jwks.json",
    }
    assert "/api/notifications" in grace_doc["paths"]
    assert grace_doc["servers"] == [{"url": "/grace"}]


async def test_a_notification_round_trip_with_the_hosts_identity(tmp_path: Path) -> None:
    async with hosted(tmp_path) as host, host.http() as http:
        assert host.grace is not None
        alice, bob = host.auth("alice"), host.auth("bob")
        assert (await http.get("/grace/api/session", headers=alice)).json() == {
            "user_id": "alice",
            "admin": False,
        }
        ws_url = host.url.replace("http://", "ws://") + "/grace/api/notifications/stream"
        async with (
            websockets.connect(ws_url, additional_headers=alice) as ws_header,
            websockets.connect(ws_url) as ws_hello,
            http.stream("GET", "/grace/api/notifications/sse", headers=alice) as sse,
        ):
            by_header, by_hello = Client(ws_header), Client(ws_hello)
            await by_hello.send({"type": "hello", "token": host_token("alice")})
            for client in (by_header, by_hello):
                assert (await client.expect("welcome"))["user_id"] == "alice"
                await client.expect("synced")
            stream = SSEStream(sse)
            welcome, _, _ = await stream.until_synced()
            assert welcome.data["user_id"] == "alice"

            stored = await host.grace.notify_user("alice", "task_completed", "Deploy done")
            assert (await by_header.recv())["id"] == stored.id
            assert (await by_hello.recv())["id"] == stored.id
            assert (await stream.next()).data["id"] == stored.id

            # bob sees none of it and cannot mark it read
            assert (await http.get("/grace/api/notifications", headers=bob)).json()["items"] == []
            marked = await http.post(
                "/grace/api/notifications/read", headers=bob, json={"ids": [stored.id]}
            )
            assert marked.json()["marked"] == 0
            page = (await http.get("/grace/api/notifications", headers=alice)).json()
            assert [n["id"] for n in page["items"]] == [stored.id] and page["unread"] == 1

            # alice marks it read over REST; her socket hears it
            marked = await http.post(
                "/grace/api/notifications/read", headers=alice, json={"ids": [stored.id]}
            )
            assert marked.json() == {"marked": 1, "unread": 0}
            assert (await by_header.expect("read"))["ids"] == [stored.id]

        # the chat and uploads take the host's identity too
        said = await http.post("/grace/api/unified/chat", headers=alice, json={"text": "status"})
        assert said.status_code == 200, said.text
        upload = await http.post(
            "/grace/api/learning/documents",
            headers=alice,
            files={"files": ("notes.md", b"# Notes\n\nGrace learns this.", "text/markdown")},
        )
        assert upload.status_code == 202, upload.text
        job = upload.json()["task_ids"][0]
        mine = await http.get(f"/grace/api/learning/jobs/{job}", headers=alice)
        assert mine.status_code == 200
        error_body(await http.get(f"/grace/api/learning/jobs/{job}", headers=bob), 403, "forbidden")


async def test_bad_host_tokens_get_grace_s_answers(tmp_path: Path) -> None:
    async with hosted(tmp_path) as host, host.http() as http:
        expired = host.auth("alice", ttl=-60)
        foreign = {"Authorization": f"Bearer {host_token('alice', key=OTHER_KEY)}"}
        elsewhere = host.auth("alice", issuer="https://elsewhere.example")
        path = "/grace/api/notifications"
        assert error_body(await http.get(path, headers=expired), 401, "unauthenticated") == (
            "token expired"
        )
        for headers in (foreign, elsewhere):
            message = error_body(await http.get(path, headers=headers), 401, "unauthenticated")
            assert message == "invalid token"
        # a body is refused before it is read, as with Grace's own tokens
        error_body(
            await http.post(f"{path}/read", headers=foreign, json={"all": True}),
            401,
            "unauthenticated",
        )
        ws_url = host.url.replace("http://", "ws://") + "/grace/api/notifications/stream"
        for headers in (expired, foreign):
            async with websockets.connect(ws_url, additional_headers=headers) as ws:
                frame = json.loads(await ws.recv())
                assert frame["type"] == "error" and frame["code"] == "unauthenticated"
                with pytest.raises(ConnectionClosed) as closed:
                    await ws.recv()
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
        # the host's session cookie is the host's token too, from the host's own pages only
        cookie = {"Cookie": f"host_session={host_token('erin')}"}
        whoami = await http.get("/grace/api/session", headers=cookie)
        assert whoami.json()["user_id"] == "erin"
        foreign_page = {**cookie, "Origin": "https://evil.example"}
        error_body(await http.get("/grace/api/session", headers=foreign_page), 403, "forbidden")
        async with websockets.connect(ws_url, additional_headers=cookie) as ws:
            client = Client(ws)
            assert (await client.expect("welcome"))["user_id"] == "erin"
        # Grace's own tokens still work beside the host's
        assert host.grace is not None
        own = {"Authorization": f"Bearer {host.grace.tokens.issue('carol')}"}
        assert (await http.get("/grace/api/session", headers=own)).json()["user_id"] == "carol"


async def test_grace_starts_with_the_host_and_only_the_systems_asked_for(tmp_path: Path) -> None:
    async with hosted(tmp_path, systems=()) as host, host.http() as http:
        assert host.grace is not None and host.grace.started
        assert host.events == ["host up"]
        assert host.grace.chat is None and host.grace.learning is None
        error_body(
            await http.get("/grace/api/unified/chat/history", headers=host.auth("a")),
            404,
            "not_found",
        )
    assert host.events == ["host up", "host down"] and not host.grace.started


async def test_the_web_chat_is_served_under_a_path(tmp_path: Path) -> None:
    async with hosted(tmp_path, web="/chat") as host, host.http() as http:
        page = await http.get("/chat/")
        assert page.status_code == 200
        assert '<meta name="grace-api" content="/grace" />' in page.text
        assert 'src="/assets' not in page.text and 'href="/assets' not in page.text
        assets = [part.split('"')[0] for part in page.text.split('"./assets/')[1:]]
        assert assets
        for asset in assets:
            assert (await http.get(f"/chat/assets/{asset}")).status_code == 200


def test_a_prefix_the_host_answers_under_is_refused(tmp_path: Path) -> None:
    app = host_app([])
    grace = Grace(Settings(data_dir=tmp_path), systems=())
    with pytest.raises(ValueError, match="already answers"):
        mount_grace(app, grace, prefix="/api")
    included = APIRouter(prefix="/grace")

    @included.get("/orders")
    async def orders() -> list[str]:
        return []

    app.include_router(included)
    with pytest.raises(ValueError, match="already answers under /grace: /grace/orders"):
        mount_grace(app, grace, prefix="/grace")
    with pytest.raises(ValueError, match="a prefix is a path"):
        mount_grace(app, grace, prefix="/")
    with pytest.raises(TypeError):
        embed(app, Settings(data_dir=tmp_path), systems=True)  # type: ignore[arg-type]


async def test_grace_serve_s_native_stream_takes_a_host_identity(tmp_path: Path) -> None:
    """``create_app(grace, identity=...)`` under ``make_server``: the stream served without
    ASGI identifies by the host's JWT, in the handshake's header and in the hello frame."""
    secret = "a-shared-host-secret-of-at-least-32-bytes"
    identity = HostJWT(issuer=ISSUER, audience=AUDIENCE, algorithms=["HS256"], key=secret)
    settings = Settings(data_dir=tmp_path / "grace", log_level="warning")
    grace = Grace(settings, systems=())
    app = create_app(grace, identity)
    sock = listen("127.0.0.1", 0)
    url = base_url("127.0.0.1", sock.getsockname()[1])
    server = make_server(app, settings)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await until(lambda: server.started or task.done(), 10, "server start")
        now = int(time.time())
        claims = {"sub": "dana", "iss": ISSUER, "aud": AUDIENCE, "exp": now + 60}
        token = jwt.encode(claims, secret, algorithm="HS256")
        ws_url = url.replace("http://", "ws://") + "/api/notifications/stream"
        headers = {"Authorization": f"Bearer {token}"}
        async with (
            websockets.connect(ws_url, additional_headers=headers) as by_header,
            websockets.connect(ws_url) as by_hello,
        ):
            assert type(by_header).__name__ == "ClientConnection"
            await by_hello.send(json.dumps({"type": "hello", "token": token}))
            clients = [Client(by_header), Client(by_hello)]
            for client in clients:
                assert (await client.expect("welcome"))["user_id"] == "dana"
                await client.expect("synced")
            stored = await grace.notify_user("dana", "task_completed", "Done")
            for client in clients:
                assert (await client.recv())["id"] == stored.id
        async with websockets.connect(ws_url) as ws:
            await Client(ws).send({"type": "hello", "token": token + "x"})
            frame = json.loads(await ws.recv())
            assert frame["code"] == "unauthenticated" and frame["message"] == "invalid token"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)
