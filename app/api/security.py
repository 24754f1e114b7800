"""Headers on every answer, and the optional per-client rate limit of the model endpoints.

Both are plain ASGI middleware, so they cover every answer: handlers, errors (413, 429, 500), the
OpenAPI document and the static web map.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]


def content_security_policy(connect_origins: list[str]) -> str:
    """Only the page's own scripts; the API (same origin) and the configured origins for fetches.
    PixiJS compiles shaders and runs its batcher in workers made from blobs; KaTeX needs inline styles."""
    connect = " ".join(["'self'", *connect_origins])
    return (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
        f"font-src 'self' data:; connect-src {connect}; worker-src 'self' blob:; object-src 'none'; "
        "base-uri 'self'; frame-ancestors 'none'; form-action 'self'"
    )


def security_headers(connect_origins: list[str]) -> list[tuple[bytes, bytes]]:
    return [
        (b"x-content-type-options", b"nosniff"),
        (b"content-security-policy", content_security_policy(connect_origins).encode()),
        (b"referrer-policy", b"strict-origin-when-cross-origin"),
        (b"x-frame-options", b"DENY"),
    ]


class SecurityHeaders:
    """Adds the security headers to every HTTP answer (those a handler set itself are kept)."""

    def __init__(self, app: ASGIApp, connect_origins: list[str]) -> None:
        self.app = app
        self.headers = security_headers(connect_origins)

    async def __call__(self, scope: Scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []),
                                      *[(k, v) for k, v in self.headers if k not in present]]
            await send(message)

        await self.app(scope, receive, send_with_headers)


MODEL_PATHS = ("/api/place", "/api/ask")
MODEL_SEARCH_MODES = ("semantic", "hybrid")


def uses_a_model(scope: Scope) -> bool:
    """Search with semantic/hybrid mode or rerank, place, ask: the requests that run a model."""
    path = scope.get("path", "").rstrip("/")
    if path in MODEL_PATHS:
        return True
    if path != "/api/search":
        return False
    query = parse_qs(scope.get("query_string", b"").decode(errors="replace"))
    return (any(mode in MODEL_SEARCH_MODES for mode in query.get("mode", []))
            or any(value.lower() in ("true", "1") for value in query.get("rerank", [])))


class ModelRateLimit:
    """At most `per_minute` model requests per client address in any 60 s (sliding window); more are
    answered 429 with Retry-After. One process's count: with several workers each counts its own."""

    def __init__(self, app: ASGIApp, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.app = app
        self.per_minute = per_minute
        self.clock = clock
        self.recent: dict[str, deque[float]] = {}

    async def __call__(self, scope: Scope, receive, send) -> None:
        if scope["type"] != "http" or not uses_a_model(scope):
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("unknown", 0))[0]
        now = self.clock()
        times = self.recent.setdefault(client, deque())
        while times and times[0] <= now - 60:
            times.popleft()
        if len(times) >= self.per_minute:
            retry = max(1, int(times[0] + 60 - now) + 1)
            body = (b'{"status_code":429,"detail":"too many model requests from this address: at most '
                    + str(self.per_minute).encode() + b' a minute"}')
            await send({"type": "http.response.start", "status": 429, "headers": [
                (b"content-type", b"application/json"), (b"retry-after", str(retry).encode()),
                (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        times.append(now)
        if len(self.recent) > 100_000:  # forget idle clients rather than grow without bound
            self.recent = {k: v for k, v in self.recent.items() if v and v[-1] > now - 60}
        await self.app(scope, receive, send)
