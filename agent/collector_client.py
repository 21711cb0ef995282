"""The agent's one client of the collector API over HTTPS (httpx): enrollment, report delivery and
the policy bundle, with every answer classified.

httpx's errors and the collector's `ErrorBody` refusals are translated here, once. A bundle check
comes back `Fetched`, `NotModified` (304 to `If-None-Match`) or `Unavailable` (try later). A
delivery comes back as an outcome the uploader acts on:

- `Delivered`: 2xx; the report id is acknowledged (a duplicate is acknowledged too).
- `KeyRejected`: 401; the device key is unknown or revoked, so enroll again and retry.
- `Refused`: 400, 413 or 422; this report is bad data and will never be accepted: dead-letter it.
- `RetryLater`: timeouts, connection errors, 5xx, 408/409/425/429 (honouring Retry-After), and any
  other 4xx (a wrong URL or a permission problem is fixed by configuration, not by dropping reports).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from agent.errors import EnrollmentError
from fleetward import __version__
from fleetward.wire import EnrollRequest, EnrollResponse, ErrorBody, ReportAck

if TYPE_CHECKING:
    import httpx

REFUSED_FOR_GOOD = frozenset({400, 413, 422})
USER_AGENT = f"fleetward-agent/{__version__}"


@dataclass(frozen=True)
class Delivered:
    ack: ReportAck | None


@dataclass(frozen=True)
class KeyRejected:
    message: str


@dataclass(frozen=True)
class Refused:
    status_code: int
    message: str


@dataclass(frozen=True)
class RetryLater:
    message: str
    retry_after: float | None = None


Delivery = Delivered | KeyRejected | Refused | RetryLater

BUNDLE_PATH = "/v1/policies/bundle"
MAX_BUNDLE_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Fetched:
    data: bytes
    etag: str | None


@dataclass(frozen=True)
class NotModified:
    pass


@dataclass(frozen=True)
class Unavailable:
    message: str  # nothing published yet, not enrolled, or the collector unreachable: try later


FetchOutcome = Fetched | NotModified | Unavailable


class CollectorClient:
    def __init__(
        self,
        base_url: str,
        *,
        timeout: float,
        tls_ca_file: Path | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        import httpx

        verify: ssl.SSLContext | bool = True
        if tls_ca_file is not None:
            verify = ssl.create_default_context(cafile=str(tls_ca_file))
        self.base_url = base_url
        self._http = httpx.Client(
            base_url=base_url,
            timeout=timeout,
            verify=verify,
            transport=transport,
            headers={"User-Agent": USER_AGENT},
            follow_redirects=False,
        )

    def enroll(self, request: EnrollRequest) -> EnrollResponse:
        import httpx

        url = f"{self.base_url}/v1/enroll"
        try:
            response = self._http.post(
                "/v1/enroll",
                content=request.model_dump_json(),
                headers={"Content-Type": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise EnrollmentError(f"cannot reach the collector at {url}: {_describe(exc)}") from exc
        if response.status_code != 200:
            error = _error_body(response)
            raise EnrollmentError(
                f"the collector at {url} refused enrollment ({response.status_code} {error.code}): {error.message}"
                + _enroll_hint(error.code)
            )
        try:
            return EnrollResponse.model_validate_json(response.content)
        except ValidationError as exc:
            raise EnrollmentError(
                f"the collector at {url} answered enrollment with an unexpected body"
            ) from exc

    def send_report(self, body: str, device_key: str) -> Delivery:
        import httpx

        try:
            response = self._http.post(
                "/v1/reports",
                content=body.encode("utf-8"),
                headers={"Content-Type": "application/json", "Authorization": f"Bearer {device_key}"},
            )
        except httpx.HTTPError as exc:
            return RetryLater(f"cannot reach the collector: {_describe(exc)}")
        status = response.status_code
        if 200 <= status < 300:
            try:
                return Delivered(ReportAck.model_validate_json(response.content))
            except ValidationError:
                return Delivered(None)  # accepted all the same: the collector said 2xx
        error = _error_body(response)
        message = f"{status} {error.code}: {error.message}"
        if status == 401:
            return KeyRejected(message)
        if status in REFUSED_FOR_GOOD:
            return Refused(status, message)
        return RetryLater(message, _retry_after(response.headers.get("Retry-After")))

    def fetch_bundle(self, etag: str | None, device_key: str) -> FetchOutcome:
        """`GET /v1/policies/bundle` with the device key, read up to MAX_BUNDLE_BYTES."""
        import httpx

        headers = {"Authorization": f"Bearer {device_key}"}
        if etag:
            headers["If-None-Match"] = etag
        try:
            with self._http.stream("GET", BUNDLE_PATH, headers=headers) as response:
                if response.status_code == 304:
                    return NotModified()
                if response.status_code != 200:
                    return Unavailable(f"the collector answered {response.status_code} for {BUNDLE_PATH}")
                body = bytearray()
                for chunk in response.iter_bytes():
                    body.extend(chunk)
                    if len(body) > MAX_BUNDLE_BYTES:
                        return Unavailable(f"the bundle is larger than {MAX_BUNDLE_BYTES} bytes; not read")
                return Fetched(bytes(body), response.headers.get("ETag"))
        except httpx.HTTPError as exc:
            return Unavailable(f"cannot fetch the policy bundle: {type(exc).__name__}: {exc}")

    def close(self) -> None:
        self._http.close()


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _error_body(response: httpx.Response) -> ErrorBody:
    return ErrorBody.of_refusal(response.content, response.text, response.reason_phrase)


def _enroll_hint(code: str) -> str:
    if code == "enroll_secret_invalid":
        return "; deploy the current enroll secret (FLEETWARD_ENROLL_SECRET or enroll_secret_file)"
    return ""


def _retry_after(value: str | None) -> float | None:
    # The collector sends delay-seconds; an HTTP-date is ignored (the backoff still applies).
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None
