"""Errors of the collector.

    CollectorError                 root of every error the collector raises on purpose
     +-- StoreError                the database cannot be used as asked
     |    +-- MigrationError       the schema is not at the version this code needs
     +-- CatalogueUnavailable      the policy catalogue could not be loaded for registration
     +-- Refused                   a request is refused: stable code (fleetward.wire.ErrorCode), message, detail
          +-- Invalid              what was asked cannot be done as asked           (HTTP 422)
          +-- Unauthorized         the credential presented is not accepted         (HTTP 401)
          +-- Forbidden            the caller is known but may not do this          (HTTP 403)
          +-- NotFound             the named object does not exist (not_found)      (HTTP 404)
          +-- Conflict             it clashes with what is already stored           (HTTP 409)
          +-- ApiError             a refusal of the HTTP layer itself, with its own status and headers

The store and the domain raise the kinds and know nothing of HTTP; only collector/api raises
`ApiError`. The API translates every `Refused` once, in `collector.api.errors`, as
`fleetward.wire.ErrorBody`; the command line prints the message.
"""

from __future__ import annotations

from fleetward.wire import ErrorCode


class CollectorError(Exception):
    """Root of the collector's own errors."""


class StoreError(CollectorError):
    pass


class MigrationError(StoreError):
    pass


class CatalogueUnavailable(CollectorError):
    pass


class Refused(CollectorError):
    """A refusal with a stable `code` and a message for people (naming what to do)."""

    default_code = ErrorCode.INVALID_REQUEST

    def __init__(self, message: str, *, code: ErrorCode | None = None, detail: object | None = None) -> None:
        super().__init__(message)
        self.code = ErrorCode(code or self.default_code)
        self.message = message
        self.detail = detail


class Invalid(Refused):
    default_code = ErrorCode.INVALID_REQUEST


class Unauthorized(Refused):
    default_code = ErrorCode.UNAUTHENTICATED


class Forbidden(Refused):
    default_code = ErrorCode.FORBIDDEN


class NotFound(Refused):
    default_code = ErrorCode.NOT_FOUND

    def __init__(self, what: str, ident: str) -> None:
        super().__init__(f"{what} {ident!r} does not exist", detail={"id": ident})


class Conflict(Refused):
    default_code = ErrorCode.CONFLICT


class ApiError(Refused):
    """The HTTP layer's own refusal (authentication, rate limits, readiness): it names its status."""

    def __init__(
        self,
        status_code: int,
        code: ErrorCode,
        message: str,
        detail: object | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, code=code, detail=detail)
        self.status_code = status_code
        self.headers = headers or {}
