"""HTTP plumbing shared by every route: request ids, metrics, PagerDuty-shaped errors."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CollectorRegistry, Counter, Histogram
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fireline.core.errors import (
    ApiError,
    InvalidInputError,
    PayloadTooLargeError,
    RequestTimeoutError,
    validation_message,
)
from fireline.core.logging import get_logger

log = get_logger("fireline.http")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_NUL_IN_TEXT = "22021"
_STATUS_CODES = {400: 2001, 401: 2006, 403: 2010, 404: 2100, 405: 2016, 429: 2020}


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "fireline_http_requests_total", "HTTP requests", ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "fireline_http_request_duration_seconds", "HTTP request latency", ["method", "route"],
            registry=self.registry,
        )


# PagerDuty's Events API v2 refuses an event over 512 KB.
EVENTS_MAX_BYTES = 512 * 1024
_EVENTS_PREFIX = "/v2/"


@dataclass(frozen=True)
class BodyLimits:
    """How large a request body may be, and how long it may take to arrive: a client that
    announces a body and then stalls holds a connection and a task, so it is cut off."""

    max_bytes: int = 1 << 20
    read_timeout: float = 30.0
    events_max_bytes: int = EVENTS_MAX_BYTES
    # How long the rest of a refused body is read and dropped after the 413 is sent (as
    # nginx's lingering close does): closing a socket with unread bytes makes the kernel
    # reset it, and a reset can drop the 413 the client has not read yet.
    linger: float = 5.0

    def limit_for(self, path: str) -> int:
        return self.events_max_bytes if path.startswith(_EVENTS_PREFIX) else self.max_bytes


class RequestContextMiddleware:
    """Gives every request an id (kept from `X-Request-Id` when well-formed), binds it to the
    log context, returns it in the response, and records metrics by route template. It reads
    the body first, within `limits`, so no route ever parses more than the limit allows."""

    def __init__(self, app: ASGIApp, metrics: Metrics, limits: BodyLimits | None = None) -> None:
        self.app = app
        self.metrics = metrics
        self.limits = limits or BodyLimits()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []),
                                      (b"x-request-id", request_id.encode())]
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                checked = await _read_body(scope, receive, send_with_id, self.limits)
                if checked is not None:
                    await self.app(scope, checked, send_with_id)
            finally:
                route = getattr(scope.get("route"), "path", "unmatched")
                self.metrics.requests.labels(scope["method"], route, str(status)).inc()
                self.metrics.latency.labels(scope["method"], route).observe(
                    time.perf_counter() - started
                )


_NUL_FORMS = (b"\x00", b"\\u0000", b"%00")


async def _read_body(scope: Scope, receive: Receive, send: Send,
                     limits: BodyLimits) -> Receive | None:
    """Reads the whole body (within its size limit and time) and returns a `receive` that
    replays it, or None when the request was answered here: 413 over the limit (before
    reading it, when Content-Length says so), 408 when it arrives too slowly, 400 with a NUL
    character — text with one cannot be stored (PostgreSQL refuses it; SQLite would keep it
    and other tools choke)."""
    path = scope["path"]
    limit = limits.limit_for(path)
    if _declared_length(scope) > limit:
        await _refuse(scope, send, PayloadTooLargeError(errors=[_too_large(path, limit)]),
                      unread=receive, linger=limits.linger)
        return None
    raw_path = scope.get("raw_path") or path.encode()
    chunks: list[bytes] = []
    size = 0
    more = scope["method"] not in {"GET", "HEAD", "OPTIONS", "DELETE"}
    try:
        async with asyncio.timeout(limits.read_timeout if more else None):
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return None  # nobody is left to answer
                chunk = message.get("body", b"")
                size += len(chunk)
                more = message.get("more_body", False)
                if size > limit:
                    await _refuse(scope, send,
                                  PayloadTooLargeError(errors=[_too_large(path, limit)]),
                                  unread=receive if more else None, linger=limits.linger)
                    return None
                chunks.append(chunk)
    except TimeoutError:
        await _refuse(scope, send, RequestTimeoutError(errors=[
            f"the body must arrive within {limits.read_timeout:g} seconds"]))
        return None
    body = b"".join(chunks)
    # The forms have no letters that change case (JSON's escape is a lowercase `\u`).
    if any(form in part for part in (raw_path, scope.get("query_string", b""), body)
           for form in _NUL_FORMS):
        error = InvalidInputError(errors=["text must not contain NUL characters"])
        await JSONResponse(error.body(), status_code=400)(scope, receive, send)
        return None
    if not chunks:
        return receive
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _declared_length(scope: Scope) -> int:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else 0  # a bad one is the server's to refuse
    return 0


def _too_large(path: str, limit: int) -> str:
    what = "an event" if path.startswith(_EVENTS_PREFIX) else "the request body"
    return f"{what} must be at most {limit:,} bytes"


async def _refuse(scope: Scope, send: Send, error: ApiError, *,
                  unread: Receive | None = None, linger: float = 0.0) -> None:
    """Answers before the body was read whole, and the connection closes after the answer.
    What is left of a refused body (`unread`) is read and dropped for up to `linger` seconds
    before the answer is finished, so the client, still sending, reads the answer instead of
    a reset. The Events API answers in its own shape."""
    if scope["path"].startswith(_EVENTS_PREFIX):
        body: dict[str, object] = {"status": "invalid event", "message": error.message,
                                   "errors": error.errors}
    else:
        body = error.body()
    response = JSONResponse(body, status_code=error.status_code, headers={"connection": "close"})

    async def nothing() -> Message:
        return {"type": "http.disconnect"}

    async def send_then_drain(message: Message) -> None:
        if message["type"] != "http.response.body" or message.get("more_body", False):
            await send(message)
            return
        await send({**message, "more_body": True})  # all of it: Content-Length is sent
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(linger):
                while unread is not None:
                    dropped = await unread()
                    if dropped["type"] == "http.disconnect" or not dropped.get("more_body"):
                        break
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    await response(scope, nothing, send if unread is None else send_then_drain)


class ErrorPages(Protocol):
    """How the web app answers a browser's failed page request (core knows no templates)."""

    def wants_page(self, request: Request) -> bool: ...

    async def error_page(self, request: Request, status_code: int, message: str) -> Response: ...


def install_error_handlers(app: FastAPI, pages: ErrorPages | None = None) -> None:
    def page_for(request: Request) -> bool:
        return pages is not None and pages.wants_page(request)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        if pages is not None and page_for(request):
            return await pages.error_page(request, exc.status_code, exc.message)
        return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        error = InvalidInputError(errors=[_describe(item) for item in exc.errors()])
        if pages is not None and page_for(request):
            return await pages.error_page(request, 400, "; ".join(error.errors))
        return JSONResponse(error.body(), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if pages is not None and page_for(request):
            return await pages.error_page(request, exc.status_code, str(exc.detail))
        body = {"error": {"message": str(exc.detail),
                          "code": _STATUS_CODES.get(exc.status_code, 2000), "errors": []}}
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.error("unhandled_error", path=request.url.path, exc_info=exc)
        if pages is not None and page_for(request):
            return await pages.error_page(request, 500, "Internal Server Error")
        body = {"error": {"message": "Internal Server Error", "code": 2000, "errors": []}}
        return JSONResponse(body, status_code=500)

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> Response:
        # PostgreSQL text cannot hold a NUL character (SQLSTATE 22021): input carrying one
        # is the client's error, not the server's.
        if getattr(exc.orig, "sqlstate", None) == _NUL_IN_TEXT:
            error = InvalidInputError(errors=["Text must not contain NUL characters"])
            return JSONResponse(error.body(), status_code=400)
        return await _unexpected(request, exc)


def _describe(item: Any) -> str:
    location = ".".join(str(part) for part in item.get("loc", ()) if part != "body")
    message = validation_message(item)
    return f"{location}: {message}" if location else message
