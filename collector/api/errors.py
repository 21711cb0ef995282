"""The one error shape of the API: `fleetward.wire.ErrorBody` with a stable `code`.

Every refusal goes through here: our own `ApiError`, FastAPI's validation errors (422
`invalid_request`), Starlette's 404/405, and, as a last resort, an unexpected error (500
`internal_error`, logged with its traceback but never echoed to the client).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from collector.errors import ApiError
from collector.observability import logger
from fleetward.wire import ErrorBody

_HTTP_CODES = {
    400: "invalid_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
}


def error_response(
    status_code: int,
    code: str,
    message: str,
    detail: object | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = ErrorBody(code=code, message=message, detail=detail)
    return JSONResponse(body.model_dump(mode="json"), status_code=status_code, headers=headers)


def _validation_detail(exc: RequestValidationError) -> list[dict[str, Any]]:
    problems = []
    for error in exc.errors():
        location = [str(part) for part in error.get("loc", ())]
        problems.append({"location": ".".join(location), "problem": str(error.get("msg", "invalid"))})
    return problems


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status_code, exc.code, exc.message, exc.detail, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = _validation_detail(exc)
        first = problems[0] if problems else {"location": "body", "problem": "invalid"}
        message = f"the request is not valid: {first['location']}: {first['problem']}"
        if len(problems) > 1:
            message += f" (and {len(problems) - 1} more problem(s), see detail)"
        return error_response(422, "invalid_request", message, problems)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(
            exc.status_code, "invalid_request" if exc.status_code < 500 else "internal_error"
        )
        if exc.status_code == 404:
            message = f"no such endpoint: {request.method} {request.url.path}; see /openapi.json"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}; see /openapi.json"
        else:
            message = str(exc.detail)
        return error_response(exc.status_code, code, message, None, dict(exc.headers or {}))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger().exception(
            "unexpected error",
            extra={"method": request.method, "route": request.url.path, "error": type(exc).__name__},
        )
        return error_response(
            500, "internal_error", "the collector failed unexpectedly; the error was logged"
        )
