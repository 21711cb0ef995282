"""Request size limit (ASGI middleware) and a per-device rate limit (token bucket).

The size limit checks `Content-Length` up front and counts the streamed body, so a chunked
upload cannot slip past it. The rate limiter lives in process memory: with N API processes
behind a load balancer a device gets up to N times the rate, which is fine for a guard rail.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from collector.errors import ApiError
from fleetward.wire import ErrorCode


class _TooLarge(Exception):
    pass


def _error_bytes(code: ErrorCode, message: str, detail: object) -> bytes:
    return json.dumps({"code": code, "message": message, "detail": detail}).encode()


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                too_large = int(declared) > self.max_bytes
            except ValueError:
                await _reply(send, 400, ErrorCode.INVALID_REQUEST, "Content-Length is not a number", None)
                return
            if too_large:
                await self._refuse(send)
                return
        received = 0
        exceeded = False
        replied = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            # The app may turn our exception into its own error response: answer 413 instead.
            nonlocal replied
            if exceeded:
                if not replied:
                    replied = True
                    await self._refuse(send)
                return
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except _TooLarge:
            if not replied:
                await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        await _reply(
            send,
            413,
            ErrorCode.PAYLOAD_TOO_LARGE,
            f"the request body is larger than the limit of {self.max_bytes} bytes; send fewer results per report",
            {"max_bytes": self.max_bytes},
        )


async def _reply(send: Send, status: int, code: ErrorCode, message: str, detail: Any) -> None:
    body = _error_bytes(code, message, detail)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


@dataclass
class _Bucket:
    tokens: float
    updated: datetime


class RateLimiter:
    """Token bucket per key: `burst` at once, refilled at `per_minute`. Thread-safe."""

    def __init__(self, per_minute: float, burst: int, now: Callable[[], datetime]) -> None:
        self.rate = per_minute / 60.0
        self.burst = burst
        self._now = now
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> None:
        now = self._now()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(float(self.burst), now)
            elapsed = max((now - bucket.updated).total_seconds(), 0.0)
            bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.rate)
            bucket.updated = now
            if bucket.tokens < 1.0:
                wait = (1.0 - bucket.tokens) / self.rate
                raise ApiError(
                    429,
                    ErrorCode.RATE_LIMITED,
                    f"too many requests from this device; retry in {wait:.0f} s",
                    {"retry_after_seconds": round(wait, 1)},
                    headers={"Retry-After": str(max(1, round(wait)))},
                )
            bucket.tokens -= 1.0
