"""Errors of the collector.

    CollectorError                 root of every error the collector raises on purpose
     +-- StoreError                the database cannot be used as asked
     |    +-- MigrationError       the schema is not at the version this code needs
     +-- ApiError                  a request is refused: HTTP status, stable code, message, detail
     |    +-- NotFoundError        the named object does not exist (404 not_found)
     +-- CatalogueUnavailable      the policy catalogue could not be loaded for registration

API errors are rendered once, by `collector.api.errors`, as `fleetward.wire.ErrorBody`.
"""

from __future__ import annotations


class CollectorError(Exception):
    """Root of the collector's own errors."""


class StoreError(CollectorError):
    pass


class MigrationError(StoreError):
    pass


class CatalogueUnavailable(CollectorError):
    pass


class ApiError(CollectorError):
    """A refusal with a stable `code` (one of `fleetward.wire.ErrorCode`) and a message for people."""

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        detail: object | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.detail = detail
        self.headers = headers or {}


class NotFoundError(ApiError):
    def __init__(self, what: str, ident: str) -> None:
        super().__init__(404, "not_found", f"{what} {ident!r} does not exist", {"id": ident})
