"""The OpenAPI document, made to tell the truth about errors.

FastAPI documents its own validation-error shape for 422; this collector answers every error as
`ErrorBody` (see `collector.api.errors`), so the document is rewritten once to say so, and the
refusals every operation can meet (malformed body, too large, unauthenticated, rate limited)
are listed where they apply.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from fleetward.wire import ErrorBody

_ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
_DESCRIPTIONS = {
    "400": "The body is not parseable JSON",
    "401": "No credential, or an unknown or revoked one",
    "403": "The credential's role may not do this",
    "404": "No such object",
    "405": "Method not allowed",
    "413": "The body is larger than the limit",
    "422": "The request is not valid: `detail` lists each problem",
    "429": "Rate limited: retry after `Retry-After` seconds",
    "503": "Not ready",
}
_METHODS = {"get", "post", "put", "patch", "delete"}


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _rewrite(
                get_openapi(
                    title=app.title, version=app.version, description=app.description, routes=app.routes
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _error(code: str) -> dict[str, Any]:
    return {
        "description": _DESCRIPTIONS.get(code, "Error"),
        "content": {"application/json": {"schema": _ERROR_REF}},
    }


def _rewrite(document: dict[str, Any]) -> dict[str, Any]:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["ErrorBody"] = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    for schema_name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(schema_name, None)
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if method not in _METHODS:
                continue
            responses = operation.setdefault("responses", {})
            codes = set()
            if operation.get("parameters") or "requestBody" in operation:
                codes.add("422")
            if "{" in path:
                codes.add("404")
            if "requestBody" in operation:
                codes |= {"400", "413"}
            if operation.get("security"):
                codes |= {"401", "403", "429"}
            for code in codes:
                responses[code] = _error(code)
    return document
