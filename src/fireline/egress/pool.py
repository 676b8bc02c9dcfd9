"""A keep-alive connection pool whose cost per request does not grow with its size.

httpcore's `AsyncConnectionPool` re-examines every connection (and, for each idle one, counts
them all again) whenever a request is queued or a response closed: with 50 connections that
is thousands of calls per request, and the health monitor's throughput fell from ~530 to ~90
requests/s when one pool served 50 concurrent checks. This pool keeps idle connections on a
stack per origin and waiting requests in a queue, so taking and returning a connection are
O(1) (plus discarding stale ones).

Same contract as httpcore's pool for what GuardedTransport uses: at most `max_connections`
open connections (busy, idle or connecting), at most `max_keepalive_connections` kept idle,
idle connections past `keepalive_expiry` or closed by the server are discarded before reuse,
a request waits for a free slot at most the request's `pool` timeout (`PoolTimeout`).

The pool dials new connections itself, through the guarded network backend — so every new
connection still goes through the connect-time address check (NET-3) — and speaks HTTP/1.1 on
them (`http11.Http11Connection`, with h11).
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import AsyncIterator

import httpcore

from fireline.egress.http11 import Http11Connection

_Key = tuple[bytes, bytes, int]


def _key(origin: httpcore.Origin) -> _Key:
    # httpcore's Origin compares by value but is not hashable.
    return origin.scheme, origin.host, origin.port


class GuardedPool:
    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext,
        network_backend: httpcore.AsyncNetworkBackend,
        max_connections: int | None,
        max_keepalive_connections: int | None,
        keepalive_expiry: float | None,
    ) -> None:
        self._ssl_context = ssl_context
        self._backend = network_backend
        self._max_connections = max_connections if max_connections is not None else 2**31
        self._max_idle = (
            max_keepalive_connections if max_keepalive_connections is not None else 2**31
        )
        self._keepalive_expiry = keepalive_expiry
        self._idle: dict[_Key, list[Http11Connection]] = {}
        self._idle_count = 0
        self._open = 0  # every connection this pool owns: busy, idle or connecting
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._closed = False

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        origin = request.url.origin
        timeouts = request.extensions.get("timeout", {})
        while True:
            connection = await self._acquire(origin, timeouts)
            try:
                response = await connection.handle_async_request(request)
            except httpcore.ConnectionNotAvailable:
                # The server closed it between our check and the request: take another.
                await self._discard(connection)
                continue
            except BaseException:
                await self._discard(connection)
                raise
            return httpcore.Response(
                status=response.status,
                headers=response.headers,
                content=_ReleasingStream(response, connection, origin, self),
                extensions=response.extensions,
            )

    async def aclose(self) -> None:
        self._closed = True
        idle = [c for stack in self._idle.values() for c in stack]
        self._idle.clear()
        self._idle_count = 0
        self._open -= len(idle)
        for connection in idle:
            await connection.aclose()
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def _acquire(
        self, origin: httpcore.Origin, timeouts: dict[str, float | None]
    ) -> Http11Connection:
        while True:
            if self._closed:
                raise RuntimeError("the connection pool is closed")
            stale: list[Http11Connection] = []
            stack = self._idle.get(_key(origin))
            while stack:
                connection = stack.pop()  # the most recently used is the least likely stale
                self._idle_count -= 1
                if connection.is_idle() and not connection.has_expired():
                    await self._close_all(stale)
                    return connection
                stale.append(connection)
            await self._close_all(stale)
            if self._open < self._max_connections:
                return await self._create(origin, timeouts.get("connect"))
            if self._idle_count:
                # Full, but another origin's idle connection can make room.
                await self._close_all([self._pop_any_idle()])
                return await self._create(origin, timeouts.get("connect"))
            await self._wait_for_slot(timeouts.get("pool"))

    async def _create(self, origin: httpcore.Origin, timeout: float | None) -> Http11Connection:
        self._open += 1  # the slot is taken while connecting
        try:
            host = origin.host.decode("ascii")
            stream = await self._backend.connect_tcp(host, origin.port, timeout=timeout)
            if origin.scheme == b"https":
                try:
                    # Certificate and SNI for the URL's host name (NET-3 dials the address).
                    stream = await stream.start_tls(
                        self._ssl_context, server_hostname=host, timeout=timeout
                    )
                except BaseException:
                    await stream.aclose()
                    raise
        except BaseException:
            self._open -= 1
            self._wake_one()
            raise
        return Http11Connection(stream, keepalive_expiry=self._keepalive_expiry)

    def _pop_any_idle(self) -> Http11Connection:
        for key, stack in self._idle.items():
            if stack:
                connection = stack.pop(0)  # the oldest
                if not stack:
                    del self._idle[key]
                self._idle_count -= 1
                return connection
        raise AssertionError("no idle connection")

    async def _wait_for_slot(self, timeout: float | None) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            if timeout is None:
                await waiter
            else:
                async with asyncio.timeout(timeout):
                    await waiter
        except BaseException as exc:
            if waiter.done() and not waiter.cancelled():
                self._wake_one()  # woken, but leaving: the turn goes to the next in line
            elif waiter in self._waiters:  # (a cancelled one may have been dropped already)
                self._waiters.remove(waiter)
            if isinstance(exc, TimeoutError):
                raise httpcore.PoolTimeout("no connection became free in time") from None
            raise

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def _release(self, connection: Http11Connection, origin: httpcore.Origin) -> None:
        if self._closed or not connection.is_idle() or self._idle_count >= self._max_idle:
            await self._discard(connection)
            return
        self._idle.setdefault(_key(origin), []).append(connection)
        self._idle_count += 1
        self._wake_one()

    async def _discard(self, connection: Http11Connection) -> None:
        self._open -= 1
        self._wake_one()
        await connection.aclose()

    async def _close_all(self, connections: list[Http11Connection]) -> None:
        for connection in connections:
            self._open -= 1
            self._wake_one()
            await connection.aclose()


class _ReleasingStream:
    """The response body; closing it hands the connection back to the pool (once)."""

    def __init__(
        self,
        response: httpcore.Response,
        connection: Http11Connection,
        origin: httpcore.Origin,
        pool: GuardedPool,
    ) -> None:
        self._response = response
        self._connection: Http11Connection | None = connection
        self._origin = origin
        self._pool = pool

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for part in self._response.aiter_stream():
                yield part
        except BaseException:
            await self.aclose()
            raise

    async def aclose(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            await self._response.aclose()
        finally:
            await self._pool._release(connection, self._origin)
