"""`GuardedClient`: the only HTTP client integrations use (NET-1..5, SEC-5, SEC-7).

What it promises:
- NET-2: the URL is parsed once into an `httpx.URL`, checked against the policy (NET-1), and
  that same object is what the request carries and what is checked again just before sending.
- NET-3: connections dial only addresses checked at connect time (see `resolver`); a URL whose
  host is an IP literal has that address checked before the request is handed to aiohttp.
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
import io
import random
import ssl
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

import aiohttp
import certifi
import httpx
import yarl

from fireline.core.errors import (
    CredentialError,
    IntegrationError,
    PermanentError,
    TransientError,
)
from fireline.core.redaction import scrub
from fireline.egress.policy import EgressPolicy
from fireline.egress.resolver import (
    GuardedResolver,
    Resolver,
    check_literal,
    connecting_to,
    resolve,
)
from fireline.egress.retry import backoff, retry_after
from fireline.settings import Settings

# NET-5: explicit timeouts. `connect` covers waiting for a free pooled connection and
# dialing; `sock_read` is the longest silence while the answer is awaited or read.
DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=None, connect=10.0, sock_connect=5.0,
                                        sock_read=10.0)
DEFAULT_MAX_BODY_BYTES = 5 * 1024 * 1024
DEFAULT_MAX_CONNECTIONS = 20
USER_AGENT = "fireline"
_EXCERPT_CHARS = 200
_SCRUB_WINDOW = 4096
_READ_CHUNK = 64 * 1024
_LARGE_BODY = 1024 * 1024
_RETRY_STATUSES = frozenset({429, 503})
# Response headers as received (bytes), of which these are dropped: the body is decoded.
_BODY_FRAMING = frozenset({b"content-encoding", b"content-length", b"transfer-encoding"})
# aiohttp frames the body and names the host itself, from what it sends.
_SET_BY_AIOHTTP = frozenset({"host", "content-length", "transfer-encoding"})
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
    context.set_alpn_protocols(["http/1.1"])  # all aiohttp's client speaks
    return context


# httpx.URL is immutable, and parsing one costs more than the rest of building a request: a
# tool calls the same few URLs over and over (its health check above all).
@functools.lru_cache(maxsize=1024)
def parse_url(url: str) -> httpx.URL:
    return httpx.URL(url)


@functools.lru_cache(maxsize=1024)
def wire_url(url: httpx.URL) -> yarl.URL:
    """The URL aiohttp sends, assembled from the checked URL's parts rather than parsed again
    (NET-2: no second parser gets to decide what the host is)."""
    path, _, query = url.raw_path.decode("ascii").partition("?")
    host = url.raw_host.decode("ascii")
    return yarl.URL.build(
        scheme=url.scheme,
        host=f"[{host}]" if ":" in host else host,  # encoded: an IPv6 literal in brackets
        port=url.port,
        path=path,
        query_string=query,
        encoded=True,
    )


class GuardedClient:
    def __init__(
        self,
        policy: EgressPolicy,
        *,
        ca_bundle: Path | None = None,
        timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_attempts: int = 3,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        max_retry_after: float = 60.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
        resolver: Resolver = resolve,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        keep_alive: bool = True,
        dns_cache_seconds: int = 10,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.policy = policy
        self._ssl_context = ssl_context(ca_bundle)
        self._timeout = timeout
        self._max_body_bytes = max_body_bytes
        self._max_attempts = max_attempts
        self._backoff = functools.partial(
            backoff, base=backoff_base, cap=backoff_cap, jitter=jitter
        )
        self._max_retry_after = max_retry_after
        self._sleep = sleep
        self._resolver = resolver
        self._max_connections = max_connections
        self._keep_alive = keep_alive
        self._dns_cache_seconds = dns_cache_seconds
        # Opened on first use, inside the event loop that will run it.
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def for_settings(
        cls, settings: Settings, policy: EgressPolicy, **options: Any
    ) -> GuardedClient:
        resolver = connecting_to(settings.egress_connect_to, options.pop("resolver", resolve))
        return cls(policy, ca_bundle=settings.egress_ca_bundle, resolver=resolver, **options)

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
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                resolver=GuardedResolver(
                    allow_private=self.policy.allow_private, resolver=self._resolver
                ),
                ssl=self._ssl_context,
                limit=self._max_connections,
                force_close=not self._keep_alive,
                ttl_dns_cache=self._dns_cache_seconds,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=self._timeout,
                trust_env=False,  # NET-5: no proxies or .netrc from the environment
                # A client may serve many connections (the health monitor's shared ones): one
                # tool's session cookies must never ride along on another's request.
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=True,
            )
        return self._session

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
            except aiohttp.ClientConnectorCertificateError:
                raise PermanentError(
                    f"{_describe(request)}: the TLS certificate is not trusted"
                ) from None
            except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError):
                if idempotent and not last:  # nothing was sent: safe to try again
                    await self._sleep(self._backoff(attempt))
                    continue
                raise TransientError(f"{_describe(request)}: cannot connect") from None
            except TimeoutError:
                # WF-6: the request may have been processed; the caller decides about retries.
                raise TransientError(
                    f"{_describe(request)}: timed out", outcome_unknown=True
                ) from None
            except aiohttp.ClientError as exc:
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
        url = request.url
        self.policy.check_url(url)  # NET-2: the object about to leave is the checked one
        check_literal(url.host, self.policy.allow_private)  # NET-3 where nothing is resolved
        headers = [
            (name, value)
            for name, value in request.headers.multi_items()
            if name.lower() not in _SET_BY_AIOHTTP
        ]
        async with self._open().request(
            request.method,
            wire_url(url),
            headers=headers,
            data=_payload(request.content),
            allow_redirects=False,  # NET-4: redirects are the caller's choice, hop by hop
        ) as answer:
            body = await self._read_capped(request, answer)
            # The body is decoded already: framing headers would make httpx decode it again.
            # Raw bytes as latin-1 (RFC 9110 §5.5), never a lossy text decoding.
            received = [
                (name.decode("latin-1"), value.decode("latin-1"))
                for name, value in answer.raw_headers
                if name.lower() not in _BODY_FRAMING
            ]
            extensions = {
                "http_version": f"HTTP/{answer.version.major}.{answer.version.minor}".encode()
                if answer.version is not None
                else b"HTTP/1.1",
                "reason_phrase": (answer.reason or "").encode("latin-1"),
            }
            return httpx.Response(
                answer.status,
                headers=received,
                content=body,
                request=request,
                extensions=extensions,
            )

    async def _read_capped(
        self, request: httpx.Request, answer: aiohttp.ClientResponse
    ) -> bytes:
        # NET-5: stop reading at the cap rather than buffering whatever the server sends.
        chunks: list[bytes] = []
        size = 0
        async for chunk in answer.content.iter_chunked(_READ_CHUNK):
            size += len(chunk)
            if size > self._max_body_bytes:
                raise PermanentError(
                    f"{_describe(request)}: response body exceeds {self._max_body_bytes} bytes"
                )
            chunks.append(chunk)
        return b"".join(chunks)


def _payload(content: bytes) -> bytes | io.BytesIO | None:
    # aiohttp writes a large body in chunks, yielding to the loop, only from a BytesIO (and
    # warns about raw bytes past 1 MiB); a fresh one per attempt, as each is read to the end.
    if len(content) > _LARGE_BODY:
        return io.BytesIO(content)
    return content or None


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
