"""What Grace's OpenAPI document promises a client generator, for every route.

``document(app)`` makes the app's OpenAPI document declare, on every operation (so a route added
later follows it without opting in), with the error envelope (``ErrorBody``) as their model, the
error answers it can give:

* **400** ``bad_request``: every operation;
* **401** ``unauthenticated`` and **403** ``forbidden``: routes that need a caller (they carry
  the ``bearer`` security scheme: Swagger UI's Authorize works with a Grace token);
* **404** ``not_found``: routes with path parameters, and every route that needs a caller (the
  thing named in the path, query or body is not there, or not the caller's to see);
* **409** ``conflict``: routes that change something (``POST``, ``PUT``, ``PATCH``, ``DELETE``)
  for a caller;
* **422** ``bad_request``: routes that take query, path or body parameters;
* **413** ``too_large``: routes with a body; **429** ``rate_limited`` where a caller acts.

Integer bounds are written as integers: FastAPI's document model holds them as floats, which cannot
tell ``2**63 - 1`` (the largest seq) from ``2**63``; a bound past a float's exact range is
clamped to a signed 64-bit integer's and the schema says ``format: int64``.

A route's own declaration of a status wins; FastAPI's ``HTTPValidationError`` (a body Grace never
sends) is replaced by the envelope. ``undocumented`` lists what an operation still lacks: a tag
(one per system), a response model for its success; ``tests/test_openapi.py`` fails on any.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    """Every error answer: ``{"error": {"code": ..., "message": ...}}``."""

    error: ErrorDetail


DESCRIPTIONS = {
    400: "The request is not valid (error.code bad_request or bad_json)",
    401: "No valid credentials (error.code unauthenticated): send 'Authorization: Bearer'",
    403: "Not allowed for this caller (error.code forbidden)",
    404: "No such thing, or not the caller's (error.code not_found)",
    409: "Not possible in the current state (error.code conflict)",
    413: "The request body is too large (error.code too_large)",
    422: "A parameter or the body is not valid (error.code bad_request)",
    429: "Too many requests (error.code rate_limited); see Retry-After",
}
CHANGES = frozenset({"post", "put", "patch", "delete"})
METHODS = CHANGES | {"get", "head", "options"}
ERROR_REF = "#/components/schemas/ErrorBody"
#: The development-mode query parameter every caller dependency reads: not a real input.
DEV_PARAMETERS = frozenset({"user_id"})


def error_response(status: int) -> dict[str, Any]:
    """A route's own declaration of an error answer: ``responses={401: error_response(401)}``."""
    return {"model": ErrorBody, "description": DESCRIPTIONS[status]}


def expected_errors(method: str, operation: dict[str, Any]) -> set[int]:
    """The error statuses an operation can answer (see the module's rules)."""
    params = [p for p in operation.get("parameters", []) if p.get("name") not in DEV_PARAMETERS]
    statuses = {400}
    caller = bool(operation.get("security"))
    if caller:
        statuses |= {401, 403, 429}
    if caller or any(p.get("in") == "path" for p in params):
        statuses.add(
            404
        )  # a caller's request may name (in its path, query or body) what is not there
    if caller and method in CHANGES:
        statuses.add(409)
    if params or "requestBody" in operation:
        statuses.add(422)
    if "requestBody" in operation:
        statuses.add(413)
    return statuses


def declare_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the error answers to every operation of an OpenAPI document (in place)."""
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    for name, model in (("ErrorBody", ErrorBody), ("ErrorDetail", ErrorDetail)):
        if name not in schemas:
            definition = model.model_json_schema(ref_template="#/components/schemas/{model}")
            definition.pop("$defs", None)
            schemas[name] = definition
    for item in schema.get("paths", {}).values():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            responses = operation.setdefault("responses", {})
            replaced = responses.get("422", {})
            if "HTTPValidationError" in str(replaced):
                del responses["422"]
            for status in sorted(expected_errors(method, operation)):
                responses.setdefault(
                    str(status),
                    {
                        "description": DESCRIPTIONS[status],
                        "content": {"application/json": {"schema": {"$ref": ERROR_REF}}},
                    },
                )
    exact_integers(schema)
    for unused in ("HTTPValidationError", "ValidationError"):
        if unused in schemas and f"/{unused}" not in str(schema["paths"]):
            del schemas[unused]
    return schema


INT64 = (-(2**63), 2**63 - 1)
#: Beyond this, a float no longer holds every integer exactly.
FLOAT_EXACT = 2**53


def exact_integers(node: Any) -> None:
    """Write the bounds of every integer schema under ``node`` as integers (in place)."""
    if isinstance(node, list):
        for item in node:
            exact_integers(item)
        return
    if not isinstance(node, dict):
        return
    if node.get("type") == "integer":
        for key in ("minimum", "maximum"):
            bound = node.get(key)
            if isinstance(bound, float) and bound.is_integer():
                value = int(bound)
                if abs(value) >= FLOAT_EXACT:
                    value = max(INT64[0], min(INT64[1], value))
                    node["format"] = "int64"
                node[key] = value
    for value in node.values():
        exact_integers(value)


def document(app: FastAPI) -> None:
    """Make ``app.openapi()`` declare every operation's error answers (see the module)."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        # FastAPI caches the document (and makes it again when routes are added); declaring the
        # errors again on a cached one changes nothing
        return declare_errors(generate())

    app.openapi = openapi  # type: ignore[method-assign]


def undocumented(schema: dict[str, Any]) -> list[str]:
    """What an OpenAPI document lacks, operation by operation: a tag, a declared error answer, a
    named response model (or a declared media type) for its success."""
    problems = []
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            name = f"{method.upper()} {path}"
            if not operation.get("tags"):
                problems.append(f"{name}: no tag")
            responses = operation.get("responses", {})
            missing = sorted(
                s for s in expected_errors(method, operation) if str(s) not in responses
            )
            if missing:
                problems.append(f"{name}: does not declare {missing}")
            for status, response in responses.items():
                if status.startswith("2") and status != "204" and not _named(response):
                    problems.append(f"{name}: no response model for {status}")
    return problems


def _named(response: dict[str, Any]) -> bool:
    """A JSON answer whose schema is a named model (or a list of one); any other media type."""
    content = response.get("content", {})
    if not content:
        return False
    json = content.get("application/json")
    if json is None:
        return True
    shape = json.get("schema", {})
    return "$ref" in shape or "$ref" in shape.get("items", {})
