"""REST: history paging, unread count, read state, publishing for backends, OpenAPI, protocol."""

from __future__ import annotations

from typing import Any

from tests.support import Client, Running, error_body

H = "/api/notifications"


async def publish_many(srv: Running, user: str, count: int) -> None:
    for i in range(count):
        await srv.grace.notify_user(user, "test", f"n{i + 1}")


async def test_history_pages_forward_with_since_and_backward_with_before(
    server: Running,
) -> None:
    await publish_many(server, "ann", 7)
    await server.grace.notify_user("bob", "test", "not ann's")
    async with server.http() as http:
        auth = server.auth("ann")
        forward: list[int] = []
        since = 0
        while True:
            page = (await http.get(H, params={"since": since, "limit": 3}, headers=auth)).json()
            forward += [n["seq"] for n in page["items"]]
            if not page["has_more"]:
                break
            since = page["items"][-1]["seq"]
        assert forward == [1, 2, 3, 4, 5, 6, 7]
        assert (page["seq"], page["first_seq"], page["unread"]) == (7, 1, 7) and page["epoch"]

        backward: list[int] = []
        params: dict[str, Any] = {"limit": 3}
        while True:
            page = (await http.get(H, params=params, headers=auth)).json()
            backward += [n["seq"] for n in page["items"]]
            if not page["has_more"]:
                break
            params = {"limit": 3, "before": page["items"][-1]["seq"]}
        assert backward == [7, 6, 5, 4, 3, 2, 1]
        latest = (await http.get(H, headers=auth)).json()
        assert [n["message"] for n in latest["items"]][:2] == ["n7", "n6"]
        assert all(n["message"] != "not ann's" for n in latest["items"])

        between = {"since": 1, "before": 5, "limit": 2}  # the range between them, oldest first
        page = (await http.get(H, params=between, headers=auth)).json()
        assert [n["seq"] for n in page["items"]] == [2, 3] and page["has_more"]
        page = (await http.get(H, params={**between, "limit": 3}, headers=auth)).json()
        assert [n["seq"] for n in page["items"]] == [2, 3, 4] and not page["has_more"]
        response = await http.get(H, params={"limit": 0}, headers=auth)
        error_body(response, 422, "bad_request")
        error_body(await http.get(H), 401, "unauthenticated")


async def test_unread_count_and_mark_read_by_ids_up_to_seq_and_all(server: Running) -> None:
    await publish_many(server, "ann", 5)
    bob = await server.grace.notify_user("bob", "test", "b")
    async with server.http() as http, Client.connect(server, "ann") as tab:
        await tab.welcome()
        auth = server.auth("ann")
        assert (await http.get(f"{H}/unread", headers=auth)).json()["unread"] == 5
        items = (await http.get(H, params={"since": 0}, headers=auth)).json()["items"]

        async def mark(body: dict[str, Any]) -> dict[str, Any]:
            response = await http.post(f"{H}/read", json=body, headers=auth)
            assert response.status_code == 200, response.text
            result: dict[str, Any] = response.json()
            return result

        assert await mark({"ids": [bob.id]}) == {"marked": 0, "unread": 5}
        assert await mark({"ids": [items[0]["id"], items[1]["id"]]}) == {"marked": 2, "unread": 3}
        assert await mark({"up_to_seq": 4}) == {"marked": 2, "unread": 1}
        assert await mark({"all": True}) == {"marked": 1, "unread": 0}
        unread = (await http.get(f"{H}/unread", headers=auth)).json()
        assert unread["unread"] == 0 and unread["seq"] == 5
        page = (await http.get(H, params={"since": 0}, headers=auth)).json()
        assert all(n["read"] for n in page["items"])
        # the open chat of the same user hears about each mark
        told = [await tab.expect("read") for _ in range(4)]
        assert [t["marked"] for t in told] == [0, 2, 2, 1]
        # bob's notification was not touched
        bob_unread = await http.get(f"{H}/unread", headers=server.auth("bob"))
        assert bob_unread.json()["unread"] == 1

        error_body(await http.post(f"{H}/read", json={}, headers=auth), 400, "bad_request")
        response = await http.post(f"{H}/read", json={"all": "yes"}, headers=auth)
        error_body(response, 422, "bad_request")
        response = await http.post(f"{H}/read", json={"ids": "x", "up": 1}, headers=auth)
        error_body(response, 422, "bad_request")


async def test_publish_needs_an_admin_token_and_delivers(server: Running) -> None:
    body = {"user_id": "ann", "type": "task_completed", "message": "Deployment completed"}
    async with server.http() as http, Client.connect(server, "ann") as ann:
        await ann.welcome()
        url = f"{H}/publish"
        error_body(await http.post(url, json=body), 401, "unauthenticated")
        error_body(await http.post(url, json=body, headers=server.auth("ann")), 403, "forbidden")
        response = await http.post(
            url, json={**body, "data": {"task_id": "t1"}}, headers=server.auth("ops", admin=True)
        )
        assert response.status_code == 201, response.text
        created = response.json()
        assert created["seq"] == 1 and created["badge"] == "✅"
        (frame,) = await ann.notifications(1)
        assert frame == created and frame["data"] == {"task_id": "t1"}


async def test_publish_validation_errors_have_the_error_body(server: Running) -> None:
    admin = server.auth("ops", admin=True)
    url = f"{H}/publish"
    good = {"user_id": "ann", "type": "test", "message": "hi"}
    async with server.http() as http:
        message = error_body(
            await http.post(url, json={**good, "type": "Bad Type!"}, headers=admin),
            400,
            "bad_request",
        )
        assert "notification type" in message
        error_body(
            await http.post(url, json={**good, "type": "welcome"}, headers=admin),
            400,
            "bad_request",
        )
        error_body(
            await http.post(url, json={**good, "message": ""}, headers=admin), 422, "bad_request"
        )
        error_body(
            await http.post(url, json={**good, "message": "   "}, headers=admin),
            400,
            "bad_request",
        )
        error_body(
            await http.post(url, json={**good, "extra": 1}, headers=admin), 422, "bad_request"
        )
        error_body(
            await http.post(url, json={**good, "user_id": 5}, headers=admin), 422, "bad_request"
        )
        error_body(
            await http.post(url, json={**good, "severity": "loud"}, headers=admin),
            422,
            "bad_request",
        )
        response = await http.post(
            url,
            content=b'{"user_id": "ann", "type":',
            headers={**admin, "Content-Type": "application/json"},
        )
        assert "JSON" in error_body(response, 400, "bad_json")
        assert (await server.grace.store.head("ann")).seq == 0
        response = await http.post(url, json={**good, "severity": "warning"}, headers=admin)
        assert response.status_code == 201 and response.json()["severity"] == "warning"


async def test_openapi_lists_each_endpoint_with_the_body_it_accepts(server: Running) -> None:
    async with server.http() as http:
        doc = (await http.get("/openapi.json")).json()
    paths = doc["paths"]
    schemas = doc["components"]["schemas"]

    def body_schema(path: str) -> dict[str, Any]:
        ref = paths[path]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        schema: dict[str, Any] = schemas[ref.rsplit("/", 1)[1]]
        return schema

    for path in (H, f"{H}/unread", f"{H}/sse", "/api/protocol", "/api/health"):
        assert "get" in paths[path], path
    assert {p["name"] for p in paths[H]["get"]["parameters"]} >= {"since", "before", "limit"}

    publish = body_schema(f"{H}/publish")
    assert set(publish["required"]) == {"user_id", "type", "message"}
    assert set(publish["properties"]) == {
        "user_id",
        "type",
        "message",
        "badge",
        "severity",
        "title",
        "data",
    }
    assert publish.get("additionalProperties") is False
    # refusals are documented with the body they really have
    errors = paths[f"{H}/publish"]["post"]["responses"]
    assert "HTTPValidationError" not in str(errors)
    for status in ("401", "403", "409", "422"):
        schema = errors[status]["content"]["application/json"]["schema"]
        assert schema["$ref"].endswith("/ErrorBody"), status
    read = body_schema(f"{H}/read")
    assert set(read["properties"]) == {"ids", "up_to_seq", "all"}
    assert "token" in body_schema("/api/session")["properties"]


async def test_protocol_schema_is_served(server: Running) -> None:
    async with server.http() as http:
        schema = (await http.get("/api/protocol")).json()
    assert schema["protocol"] == 1
    assert {"hello", "ping", "ack", "mark_read", "list_tasks"} <= set(schema["commands"])
    assert schema["commands"]["ack"]["properties"]["seq"]["type"] == "integer"
    assert {"bad_json", "too_large", "rate_limited", "unauthenticated"} <= set(
        schema["error_codes"]
    )
    assert schema["close_codes"]["slow_consumer"] == 4008
    assert "welcome" in schema["control_frames"]


async def test_session_cookie_whoami_and_sign_out(server: Running) -> None:
    async with server.http() as http:
        login = await http.post("/api/session", json={"token": server.token("ann")})
        assert login.status_code == 204 and "httponly" in login.headers["set-cookie"].lower()
        me = await http.get("/api/session")  # the cookie alone identifies the caller
        assert me.json() == {"user_id": "ann", "admin": False}
        out = await http.delete("/api/session")
        assert out.status_code == 204 and "max-age=0" in out.headers["set-cookie"].lower()
        gone = await http.get("/api/session")
        assert gone.status_code == 401 and gone.json()["error"]["code"] == "unauthenticated"
        bad = await http.post("/api/session", json={"token": "nope"})
        assert bad.status_code == 401
