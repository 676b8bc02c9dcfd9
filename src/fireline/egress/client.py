"""`GuardedClient`: the only HTTP client integrations use (NET-1..5, SEC-5, SEC-7).

What it promises:
- NET-2: the URL is parsed once into an `httpx.URL`, checked against the policy (NET-1), and
  that same object is what the request carries and what is checked again just before sending.
- NET-3: connections dial only addresses checked at connect time (see `transport`).
- NET-4: redirects are returned as they are. A caller may ask to follow up to `max_redirects`
  hops; each hop is checked against the policy and, when the origin changes, every header
  but a few harmless ones (`Accept`, `Content-Type`, ...) is dropped — credentials included.
- NET-5: no proxies or `.netrc` from the environment, explicit timeouts, and the response body
  is read up to `max_body_bytes` (decoded): beyond that the call fails with `PermanentError`.
- Outcomes: 2xx/3xx are returned; 401/403 raise `CredentialError`; 429, 5xx, timeouts and
  transport failures raise `TransientError` (with `retry_after` when the server sent one);
  an untrusted TLS certificate and other 4xx raise `PermanentError`. 429 and 503 are retried
  here (connect failures too when the request is idempotent) with exponential back-off and
  full jitter, honouring `Retry-After`. Messages carry the status and a short excerpt of the
  upstream body passed through `scrub` (SEC-5) — never request headers.

What it refuses to do for callers: SEC-7 — secrets go in headers or the body, never in the URL
or query string; nothing here puts them there and callers must not either.
"""

from __future__ import annotations

import asyncio
import functools
import random
import ssl
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

import certifi
import httpx

from fireline.core.errors import (
    CredentialError,
    IntegrationError,
    PermanentError,
    TransientError,
)
from fireline.core.redaction import scrub
from fireline.egress.policy import EgressPolicy
from fireline.egress.retry import backoff, retry_after
from fireline.egress.transport import GuardedTransport, Resolver, resolve
from fireline.settings import Settings

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
DEFAULT_MAX_BODY_BYTES = 5 * 1024 * 1024
USER_AGENT = "fireline"
_EXCERPT_CHARS = 200
_SCRUB_WINDOW = 4096
_RETRY_STATUSES = frozenset({429, 503})
_BODY_FRAMING = frozenset({"content-encoding", "content-length", "transfer-encoding"})
# NET-4: all that survives a redirect to another origin.
_KEPT_ACROSS_ORIGINS = frozenset(
    {"accept", "accept-encoding", "accept-language", "content-type", "user-agent"}
)


@functools.lru_cache(maxsize=8)
def ssl_context(ca_bundle: Path | None = None) -> ssl.SSLContext:
    """The system and certifi trust stores, plus `FIRELINE_EGRESS_CA_BUNDLE` if set."""
    context = ssl.create_default_context()
    context.load_verify_locations(cafile=certifi.where())
    if ca_bundle is not None:
        context.load_verify_locations(cafile=str(ca_bundle))
    context.set_alpn_protocols(["http/1.1"])  # all the egress pool speaks
    return context


# httpx.URL is immutable, and parsing one costs more than the rest of building a request: a
# tool calls the same few URLs over and over (its health check above all).
@functools.lru_cache(maxsize=1024)
def parse_url(url: str) -> httpx.URL:
    return httpx.URL(url)


class GuardedClient:
    def __init__(
        self,
        policy: EgressPolicy,
        *,
        ca_bundle: Path | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_attempts: int = 3,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        max_retry_after: float = 60.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
        resolver: Resolver = resolve,
        limits: httpx.Limits | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.policy = policy
        self._max_body_bytes = max_body_bytes
        self._max_attempts = max_attempts
        self._backoff = functools.partial(
            backoff, base=backoff_base, cap=backoff_cap, jitter=jitter
        )
        self._max_retry_after = max_retry_after
        self._sleep = sleep
        self._timeout = timeout.as_dict()
        # Requests go straight to the transport, without an `httpx.AsyncClient` around it:
        # what a client adds is what NET-4/NET-5 refuse or what this class does itself —
        # proxies and .netrc from the environment, redirects, auth flows, and a cookie jar
        # (a client may be shared by many connections, as in the health monitor, and one
        # tool's session cookies must never ride along on another connection's request).
        self._transport = GuardedTransport(
            ssl_context=ssl_context(ca_bundle),
            allow_private=policy.allow_private,
            resolver=resolver,
            **({"limits": limits} if limits is not None else {}),
        )

    @classmethod
    def for_settings(
        cls, settings: Settings, policy: EgressPolicy, **options: Any
    ) -> GuardedClient:
        return cls(policy, ca_bundle=settings.egress_ca_bundle, **options)

    async def __aenter__(self) -> GuardedClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def request(
        self,
        method: str,
        url: str | httpx.URL,
        *,
        idempotent: bool,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        content: bytes | None = None,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        max_redirects: int = 0,
    ) -> httpx.Response:
        """Sends one request (and its retries); the response body is fully read. `data` is
        sent form-encoded (OAuth token endpoints and other form APIs)."""
        target = url if isinstance(url, httpx.URL) else parse_url(url)  # NET-2: parsed once
        if params:
            target = target.copy_merge_params(params)
        headers = dict(headers or {})
        if data is not None:
            content = urlencode(data).encode()
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        request = self._build(method, target, headers, content=content, json=json)
        for hop in range(max_redirects + 1):
            response = await self._send_with_retries(request, idempotent=idempotent)
            if not response.is_redirect or hop == max_redirects:
                return response
            request = self._follow(request, response)
        raise AssertionError("unreachable")

    def _build(
        self,
        method: str,
        url: httpx.URL,
        headers: Mapping[str, str],
        *,
        content: bytes | None = None,
        json: Any = None,
    ) -> httpx.Request:
        self.policy.check_url(url)  # NET-1
        request = httpx.Request(method, url, headers=headers, content=content, json=json)
        # NET-2: httpx.Request wraps the URL in a copy; keep the very object that was checked.
        request.url = url
        request.headers.setdefault("user-agent", USER_AGENT)
        return request

    def _follow(self, request: httpx.Request, response: httpx.Response) -> httpx.Request:
        target = request.url.join(response.headers["location"])
        method = request.method
        content: bytes | None = request.content
        if response.status_code == 303 or (response.status_code in (301, 302) and method == "POST"):
            method, content = ("HEAD" if method == "HEAD" else "GET"), None
        headers = {
            name: value
            for name, value in request.headers.items()
            if name not in ("host", "content-length")
            and not (content is None and name == "content-type")
        }
        if _origin(target) != _origin(request.url):
            # NET-4: a credential never follows a redirect to another origin.
            headers = {k: v for k, v in headers.items() if k in _KEPT_ACROSS_ORIGINS}
        return self._build(method, target, headers, content=content)  # NET-4: re-checked

    async def _send_with_retries(
        self, request: httpx.Request, *, idempotent: bool
    ) -> httpx.Response:
        for attempt in range(1, self._max_attempts + 1):
            last = attempt == self._max_attempts
            try:
                response = await self._send_once(request)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if _tls_failure(exc):
                    raise PermanentError(
                        f"{_describe(request)}: the TLS certificate is not trusted"
                    ) from None
                if idempotent and not last:  # nothing was sent: safe to try again
                    await self._sleep(self._backoff(attempt))
                    continue
                raise TransientError(f"{_describe(request)}: cannot connect") from None
            except httpx.TimeoutException:
                # WF-6: the request may have been processed; the caller decides about retries.
                raise TransientError(
                    f"{_describe(request)}: timed out", outcome_unknown=True
                ) from None
            except httpx.TransportError as exc:
                raise TransientError(
                    f"{_describe(request)}: connection failed ({type(exc).__name__})",
                    outcome_unknown=True,
                ) from None
            if response.status_code in _RETRY_STATUSES and not last:
                delay = retry_after(response.headers)
                if delay is not None and delay > self._max_retry_after:
                    break  # the caller should come back much later, not hold a worker
                await self._sleep(self._backoff(attempt) if delay is None else delay)
                continue
            break
        error = _error_for(request, response)
        if error is not None:
            raise error
        return response

    async def _send_once(self, request: httpx.Request) -> httpx.Response:
        self.policy.check_url(request.url)  # NET-2: the object about to leave is the checked one
        # NET-5: explicit timeouts on every request.
        if "timeout" not in request.extensions:
            request.extensions = {**request.extensions, "timeout": self._timeout}
        streamed = await self._transport.handle_async_request(request)
        try:
            body = await self._read_capped(request, streamed)
        finally:
            await streamed.aclose()
        # The body is decoded already: framing headers would make httpx decode it again.
        headers = [
            (name, value)
            for name, value in streamed.headers.multi_items()
            if name.lower() not in _BODY_FRAMING
        ]
        extensions: dict[str, Any] = {
            key: streamed.extensions[key]
            for key in ("http_version", "reason_phrase")
            if key in streamed.extensions
        }
        return httpx.Response(
            streamed.status_code,
            headers=headers,
            content=body,
            request=request,
            extensions=extensions,
        )

    async def _read_capped(self, request: httpx.Request, response: httpx.Response) -> bytes:
        # NET-5: stop reading at the cap rather than buffering whatever the server sends.
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self._max_body_bytes:
                raise PermanentError(
                    f"{_describe(request)}: response body exceeds {self._max_body_bytes} bytes"
                )
            chunks.append(chunk)
        return b"".join(chunks)


def _error_for(request: httpx.Request, response: httpx.Response) -> IntegrationError | None:
    status = response.status_code
    if status < 400:
        return None
    message = f"{_describe(request)} answered HTTP {status}"
    excerpt = _excerpt(response.content)
    if excerpt:
        message += f": {excerpt}"
    error: IntegrationError
    if status in (401, 403):
        error = CredentialError(message)
    elif status == 429 or status >= 500:
        # 429 and 503 say the request was not processed; other 5xx leave it unknown (WF-6).
        error = TransientError(
            message,
            retry_after=retry_after(response.headers),
            outcome_unknown=status not in (429, 503),
        )
    else:
        error = PermanentError(message)
    error.response = response
    return error


def _excerpt(body: bytes) -> str:
    # SEC-5: scrub a wide window first, so that cutting cannot leave half a secret behind.
    text = scrub(body[:_SCRUB_WINDOW].decode("utf-8", errors="replace"))
    text = " ".join(text.split())
    return text if len(text) <= _EXCERPT_CHARS else text[:_EXCERPT_CHARS] + "…"


def _describe(request: httpx.Request) -> str:
    return f"{request.method} {request.url.host}"


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port


def _tls_failure(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
