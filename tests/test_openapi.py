"""Grace's OpenAPI document is one a client generator can use: every operation tagged (one tag
per system, each described), a named response model for every success, the bearer security
scheme on every route that needs a caller, and the error answers each can give declared with the
error envelope. Routes added later are held to the same: the test walks every route of the app
with every system built."""

from pathlib import Path
from typing import Any

from fastapi import APIRouter

from grace_chat.api.app import OPENAPI_TAGS, build_api, create_app
from grace_chat.api.openapi import undocumented
from grace_chat.app import Grace
from grace_chat.config import Settings

ERROR = "#/components/schemas/ErrorBody"


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def test_every_route_is_tagged_typed_and_declares_its_errors(tmp_path: Path) -> None:
    doc = create_app(Grace(Settings(data_dir=tmp_path))).openapi()
    assert undocumented(doc) == []
    ops = operations(doc)
    assert len(ops) >= 40
    known = {tag["name"] for tag in doc["tags"]}
    assert known == {tag["name"] for tag in OPENAPI_TAGS}
    assert {t for _, _, op in ops for t in op["tags"]} <= known
    assert doc["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A Grace token (grace token USER), or the embedding host's own token",
    }
    assert "HTTPValidationError" not in str(doc)
    for method, path, op in ops:
        responses = op["responses"]
        for status, response in responses.items():
            if status.startswith("4"):
                assert response["content"]["application/json"]["schema"]["$ref"] == ERROR
        if op.get("security"):
            assert op["security"] == [{"bearer": []}]
            assert {"401", "403"} <= set(responses), (method, path)
            if method != "get":
                assert "409" in responses, (method, path)
        if "{" in path:
            assert "404" in responses, (method, path)
        inputs = [p for p in op.get("parameters", []) if p["name"] != "user_id"]  # no-auth mode
        if inputs or "requestBody" in op:
            assert "422" in responses, (method, path)
    # the public routes need nobody
    public = {(m, p) for m, p, op in ops if not op.get("security")}
    assert ("get", "/api/health") in public and ("post", "/api/session") in public
    assert ("get", "/api/notifications") not in public


def test_a_route_added_without_a_tag_or_a_model_is_caught(tmp_path: Path) -> None:
    grace = Grace(Settings(data_dir=tmp_path), systems=())
    app = build_api(grace)
    extra = APIRouter()

    @extra.get("/api/extra")
    async def untagged() -> dict[str, Any]:
        return {}

    app.include_router(extra)
    app.openapi_schema = None
    assert undocumented(app.openapi()) == [
        "GET /api/extra: no tag",
        "GET /api/extra: no response model for 200",
    ]
