"""The ASGI layer every request passes before any route runs: request id, authentication, rate limits, a
cap on the bytes actually received, security headers, metrics, and one place where unexpected errors
become a 500 that names only a request id.

It is plain ASGI (not BaseHTTPMiddleware) so that it sees the raw body stream: a chunked upload is
counted as it arrives and stopped at the cap, and a request without a valid key is answered before a
single byte of its body is read.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.exceptions import HTTPException

from agent.settings import Settings
from api import problems
from api.metrics import Metrics
from api.rate_limits import RateLimiter
from store.keys import OPEN, Caller, KeyStore

log = logging.getLogger("scisynth.api")
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# The web page and its assets, liveness, and Slack (which signs its own requests) need no key.
_PUBLIC_PATHS = frozenset({"/", "/healthz", "/readyz", "/slack/events", "/favicon.ico"})
_PUBLIC_PREFIXES = ("/static/",)
# A signed page link is its own credential (api/page_links.py); it is limited per client address instead of per key.
SIGNED_LINK = re.compile(r"/v1/shared/pages/[^/]+\.png")
_DOCS_PATHS = frozenset({"/docs", "/openapi.json"})
UPLOAD_PATHS = frozenset({"/v1/papers", "/v1/papers/import"})
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; script-src 'self'; style-src 'self'; "
                                 b"img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
                                 b"form-action 'self'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]


class BodyTooSlowError(HTTPException):
    """The body stopped arriving for longer than the body timeout (a slow client holding a connection)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(408, f"the request body stopped arriving for {seconds:g} s; send it again")


class BodyTooLargeError(HTTPException):
    """The body grew past the cap while it was being received (chunked or not)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than the {limit:,}-byte limit here; send less")


def request_id(scope: Scope) -> str:
    """The client's X-Request-ID when it is short and plain, else a new one (never echo arbitrary text)."""
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            if _REQUEST_ID.fullmatch(candidate):
                return candidate
    return uuid.uuid4().hex[:16]


def _header(scope: Scope, wanted: bytes) -> str:
    for name, value in scope.get("headers", []):
        if name == wanted:
            return value.decode("latin-1")
    return ""


class Guard:
    def __init__(self, app: ASGIApp, settings: Settings, metrics: Metrics, keys: Callable[[], KeyStore | None],
                 limiter: RateLimiter, auth_failures: RateLimiter) -> None:
        self.app = app
        self.settings = settings
        self.metrics = metrics
        self.keys = keys
        self.limiter = limiter
        self.auth_failures = auth_failures

    def _public(self, path: str) -> bool:
        if path in _PUBLIC_PATHS or path.startswith(_PUBLIC_PREFIXES):
            return True
        if path in _DOCS_PATHS and self.settings.service.api_docs:
            return True
        return path == "/metrics" and self.settings.service.public_metrics

    def _authenticate(self, scope: Scope) -> Caller | problems.JSONResponse:
        keys = self.keys()
        if keys is None or not keys.enabled():
            return OPEN
        scheme, _, token = _header(scope, b"authorization").partition(" ")
        caller = keys.caller(token.strip()) if scheme.lower() == "bearer" and token.strip() else None
        if caller is None:
            # Failed attempts are limited per address; a valid key is never locked out by someone else's
            # guesses. The address is the socket's (proxy headers count only when the operator trusts them).
            client = (scope.get("client") or ("unknown", 0))[0]
            if not self.auth_failures.allow(client):
                return problems.problem(429, "too many failed authentications from this address; wait a minute",
                                        {"Retry-After": str(self.auth_failures.retry_after(client))})
            return problems.problem(401, "missing or invalid API key: send 'Authorization: Bearer <key>'",
                                    {"WWW-Authenticate": "Bearer"})
        if not self.limiter.allow(caller.owner):
            return problems.problem(429, "rate limit exceeded for this API key; slow down",
                                    {"Retry-After": str(self.limiter.retry_after(caller.owner))})
        return caller

    def _limit_address(self, scope: Scope) -> problems.JSONResponse | None:
        """A 429 when the client address has opened more signed links this minute than a key may make requests."""
        client = (scope.get("client") or ("unknown", 0))[0]
        if self.limiter.allow(f"address:{client}"):
            return None
        return problems.problem(429, "too many page links opened from this address; wait a minute",
                                {"Retry-After": str(self.limiter.retry_after(f"address:{client}"))})

    def _limit(self, scope: Scope) -> int:
        """Uploads (multipart to an upload route) get the upload cap; everything else the JSON cap."""
        multipart = _header(scope, b"content-type").startswith("multipart/form-data")
        return self.settings.service.max_upload_bytes if multipart and scope["path"] in UPLOAD_PATHS else (
            self.settings.service.max_body_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, rid, path = time.perf_counter(), request_id(scope), scope["path"]
        scope.setdefault("state", {})["request_id"] = rid
        status = {"code": 500, "started": False}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"], status["started"] = message["status"], True
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"x-request-id"]
                message["headers"] = [*headers, (b"x-request-id", rid.encode()), *SECURITY_HEADERS]
            await send(message)

        limit, received = self._limit(scope), 0
        if path.startswith(_PUBLIC_PREFIXES):  # small static assets: no byte ranges (and no plain-text 416s)
            scope["headers"] = [(k, v) for k, v in scope["headers"] if k not in (b"range", b"if-range")]

        body_done = False

        async def counted_receive() -> Message:
            """The body, counted against the cap and timed while it arrives (afterwards a receive only waits for
            the client to go away, which a stream may do for as long as it runs)."""
            nonlocal received, body_done
            if body_done:
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.settings.service.body_timeout_seconds)
            except TimeoutError:
                raise BodyTooSlowError(self.settings.service.body_timeout_seconds) from None
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLargeError(limit)
            body_done = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        try:
            declared = _header(scope, b"content-length")
            if SIGNED_LINK.fullmatch(path):  # the link is its own credential; its address is limited instead
                caller = self._limit_address(scope) or OPEN
            else:
                caller = OPEN if self._public(path) else self._authenticate(scope)
            if isinstance(caller, problems.JSONResponse):
                await caller(scope, receive, send_with_headers)
            elif declared.isdigit() and int(declared) > limit:
                await problems.problem(413, f"the request body is {int(declared):,} bytes; the limit here is "
                                            f"{limit:,}")(scope, receive, send_with_headers)
            else:
                scope["state"]["caller"] = caller
                await self.app(scope, counted_receive, send_with_headers)
        except (BodyTooLargeError, BodyTooSlowError) as error:
            if not status["started"]:
                await problems.problem(error.status_code, str(error.detail))(scope, receive, send_with_headers)
        except Exception:
            log.exception("unhandled error on %s %s request_id=%s", scope["method"], path, rid)
            if not status["started"]:
                await problems.problem(500, "something went wrong on our side; quote this request id to the "
                                            "operator", request_id=rid)(scope, receive, send_with_headers)
        finally:
            self._observe(scope, status["code"], time.perf_counter() - started, rid)

    def _observe(self, scope: Scope, status: int, seconds: float, rid: str) -> None:
        """Bounded labels: a made-up method or path adds no new series."""
        method = scope["method"] if scope["method"] in _METHODS else "OTHER"
        route = getattr(scope.get("route"), "path", "unmatched")
        self.metrics.requests.labels(method, route, str(status)).inc()
        self.metrics.latency.labels(route).observe(seconds)
        log.info("%s %s %s %.3fs request_id=%s", method, scope["path"], status, seconds, rid)
