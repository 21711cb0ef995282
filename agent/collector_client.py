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
  A 5xx is marked `server_error`: the uploader dead-letters a report the collector keeps failing on
  while later reports are accepted (`agent.uploader`).

A backlog goes in one `POST /v1/reports/batch` (`send_batch`): its answer gives each report's own
status, classified exactly as above, one outcome per report. What refuses the batch as a whole
comes back as one outcome for all of them, and `NoBatchEndpoint` when the collector predates the
route (404 or 405): the uploader then sends one report per request.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from agent.errors import EnrollmentError
from fleetward import __version__
from fleetward.wire import BatchAck, BatchItem, EnrollRequest, EnrollResponse, ErrorBody, ReportAck

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
    status_code: int | None = None  # None when the collector was not reached

    @property
    def server_error(self) -> bool:
        """The collector answered 5xx (not a network failure or a 4xx)."""
        return self.status_code is not None and self.status_code >= 500


Delivery = Delivered | KeyRejected | Refused | RetryLater


@dataclass(frozen=True)
class NoBatchEndpoint:
    """The collector has no `POST /v1/reports/batch` (an older release): send reports one by one."""

    status_code: int


# Per report of a batch, in the order sent; or one outcome that answers the whole batch.
BatchDelivery = list[Delivery] | Delivery | NoBatchEndpoint
BATCH_PATH = "/v1/reports/batch"
NO_SUCH_ROUTE = frozenset({404, 405})

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
            response = self._post_report("/v1/reports", body.encode("utf-8"), device_key)
        except httpx.HTTPError as exc:
            return RetryLater(f"cannot reach the collector: {_describe(exc)}")
        status = response.status_code
        if 200 <= status < 300:
            try:
                return Delivered(ReportAck.model_validate_json(response.content))
            except ValidationError:
                return Delivered(None)  # accepted all the same: the collector said 2xx
        return _refusal(response)

    def send_batch(self, bodies: list[str], device_key: str) -> BatchDelivery:
        """Several reports of this device, oldest first, in one request; each answered on its own.

        The bodies are the outbox's stored JSON, joined as they are (not parsed and re-encoded).
        """
        import httpx

        content = ('{"reports":[' + ",".join(bodies) + "]}").encode("utf-8")
        try:
            response = self._post_report(BATCH_PATH, content, device_key)
        except httpx.HTTPError as exc:
            return RetryLater(f"cannot reach the collector: {_describe(exc)}")
        status = response.status_code
        if status in NO_SUCH_ROUTE:
            return NoBatchEndpoint(status)
        if not 200 <= status < 300:
            return _refusal(response)
        try:
            items = BatchAck.model_validate_json(response.content).results
        except ValidationError:
            return RetryLater(
                f"{status}: the collector answered the batch with an unexpected body", None, status
            )
        if len(items) != len(bodies):  # cannot tell which report an answer is for: trust none
            return RetryLater(
                f"{status}: the collector answered {len(items)} of {len(bodies)} reports", None, status
            )
        return [_item_outcome(item) for item in items]

    def _post_report(self, path: str, content: bytes, device_key: str) -> httpx.Response:
        return self._http.post(
            path,
            content=content,
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {device_key}"},
        )

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


def _refusal(response: httpx.Response) -> Delivery:
    error = _error_body(response)
    return _classify(response.status_code, error, _retry_after(response.headers.get("Retry-After")))


def _item_outcome(item: BatchItem) -> Delivery:
    """One report's answer inside a batch, classified as the same answer to it alone would be."""
    if 200 <= item.status < 300:
        return Delivered(item.ack)
    error = item.error or ErrorBody(code="unknown", message="the collector gave no reason")
    return _classify(item.status, error, None)


def _classify(status: int, error: ErrorBody, retry_after: float | None) -> Delivery:
    message = f"{status} {error.code}: {error.message}"
    if status == 401:
        return KeyRejected(message)
    if status in REFUSED_FOR_GOOD:
        return Refused(status, message)
    return RetryLater(message, retry_after, status)


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
