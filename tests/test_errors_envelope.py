"""Every error answer of the HTTP API is the envelope ``{"error": {"code", "message"}}`` with a
code of the protocol, including the ones Starlette and FastAPI give by themselves: no route, a
wrong method, a body that is not JSON or is nested too deeply, a broken multipart body."""

from __future__ import annotations

import httpx

from grace_chat.errors import ErrorCode
from tests.support import Running

CODES = {code.value for code in ErrorCode}


def envelope(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json", response.headers
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert body["error"]["code"] == code and code in CODES
    message: str = body["error"]["message"]
    assert message and "Traceback" not in message
    return message


async def test_unknown_paths_and_wrong_methods(server: Running) -> None:
    async with server.http() as http:
        assert "/api/nope" in envelope(await http.get("/api/nope"), 404, "not_found")
        envelope(await http.get("/no/such/page"), 404, "not_found")
        envelope(await http.get("/assets/missing.js"), 404, "not_found")
        wrong = await http.put("/api/health")
        assert "PUT" in envelope(wrong, 405, "unknown_command")
        assert wrong.headers["allow"] == "GET"
        envelope(await http.delete("/api/notifications"), 405, "unknown_command")
        envelope(await http.post("/"), 405, "unknown_command")
        # every method of the path, over all its routes (not only the first route's)
        for path, allowed in [
            ("/api/session", "DELETE, GET, POST"),
            ("/api/tasks", "GET, POST"),
            ("/api/approvals", "GET, POST"),
        ]:
            wrong = await http.options(path)
            assert allowed in envelope(wrong, 405, "unknown_command")
            assert wrong.headers["allow"] == allowed
        # a path parameter of another route does not take the method: 405, not 422
        wrong = await http.post("/api/tasks/0/logs")
        envelope(wrong, 405, "unknown_command")
        assert wrong.headers["allow"] == "GET"


async def test_bodies_that_cannot_be_parsed(server: Running) -> None:
    auth = {**server.auth("ann"), "Content-Type": "application/json"}
    read = "/api/notifications/read"
    async with server.http() as http:
        envelope(await http.post(read, content=b"{not json", headers=auth), 400, "bad_json")
        envelope(await http.post(read, content=b"\xff\xfe{", headers=auth), 400, "bad_json")
        deep = b"[" * 100_000 + b"]" * 100_000  # past the parser's recursion limit
        message = envelope(await http.post(read, content=deep, headers=auth), 400, "bad_json")
        assert "nested" in message
        admin = {**server.auth("root", admin=True), "Content-Type": "application/json"}
        for depth, code in [(5_000, "bad_json"), (300, "bad_request")]:
            data = b'{"a": ' * depth + b"1" + b"}" * depth
            body = b'{"user_id": "ann", "type": "t", "message": "m", "data": ' + data + b"}"
            response = await http.post("/api/notifications/publish", content=body, headers=admin)
            envelope(response, 400, code)


async def test_broken_multipart_uploads(server: Running) -> None:
    auth = server.auth("ann")
    upload = "/api/learning/documents"
    async with server.http() as http:
        no_boundary = {**auth, "Content-Type": "multipart/form-data"}
        response = await http.post(upload, content=b"x", headers=no_boundary)
        message = envelope(response, 400, "bad_request")
        assert "boundary" in message.lower()
        broken = {**auth, "Content-Type": "multipart/form-data; boundary=xyz"}
        body = b"--xyz\r\nContent-Disposition: form-data\r\n\r\nno name\r\n--xyz--\r\n"
        response = await http.post(upload, content=body, headers=broken)
        assert response.status_code in {400, 422}
        envelope(response, response.status_code, "bad_request")
        not_a_form = {**auth, "Content-Type": "application/json"}
        response = await http.post(upload, content=b"{}", headers=not_a_form)
        envelope(response, response.status_code, "bad_request")


async def test_the_web_chat_page_is_still_served(server: Running) -> None:
    async with server.http() as http:
        page = await http.get("/")
        assert page.status_code in {200, 503}  # 503: the bundle is not built in this checkout
        assert page.headers["content-type"].startswith("text/html")
        assert "<title>Grace" in page.text or "<!doctype html>" in page.text.lower()
