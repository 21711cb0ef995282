"""The one error shape of the API: `fleetward.wire.ErrorBody` with a stable `code`.

Every refusal goes through here, once: the store's and domain's `Refused` kinds (mapped to their
HTTP status below) and the HTTP layer's own `ApiError`, FastAPI's validation errors (422
`invalid_request`), Starlette's 404/405, and, as a last resort, an unexpected error (500
`internal_error`, logged with its traceback but never echoed to the client).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from collector.errors import ApiError, Conflict, Forbidden, Invalid, NotFound, Refused, Unauthorized
from collector.observability import logger
from fleetward.wire import ErrorBody, ErrorCode

_HTTP_CODES: dict[int, ErrorCode] = {
    400: ErrorCode.INVALID_REQUEST,
    401: ErrorCode.UNAUTHENTICATED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    409: ErrorCode.CONFLICT,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    422: ErrorCode.INVALID_REQUEST,
    429: ErrorCode.RATE_LIMITED,
}

# The one place a domain refusal becomes an HTTP status.
_KIND_STATUS: dict[type[Refused], int] = {
    Invalid: 422,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
}


def status_for(exc: Refused) -> int:
    if isinstance(exc, ApiError):
        return exc.status_code
    return next((status for kind, status in _KIND_STATUS.items() if isinstance(exc, kind)), 422)


def error_response(
    status_code: int,
    code: ErrorCode,
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
    @app.exception_handler(Refused)
    async def _refused(_request: Request, exc: Refused) -> JSONResponse:
        headers = exc.headers if isinstance(exc, ApiError) else None
        return error_response(status_for(exc), exc.code, exc.message, exc.detail, headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = _validation_detail(exc)
        first = problems[0] if problems else {"location": "body", "problem": "invalid"}
        message = f"the request is not valid: {first['location']}: {first['problem']}"
        if len(problems) > 1:
            message += f" (and {len(problems) - 1} more problem(s), see detail)"
        return error_response(422, ErrorCode.INVALID_REQUEST, message, problems)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(
            exc.status_code, ErrorCode.INVALID_REQUEST if exc.status_code < 500 else ErrorCode.INTERNAL_ERROR
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
            500, ErrorCode.INTERNAL_ERROR, "the collector failed unexpectedly; the error was logged"
        )
