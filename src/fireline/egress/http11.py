"""HTTP/1.1 on one pooled connection, spoken with h11 (the protocol engine httpcore uses).

httpcore's own HTTP/1.1 connection guards its state with an anyio lock that yields to the event
loop on every acquisition (twice per request) and wraps each step in a trace and a cancel
shield. Here the pool (`pool.GuardedPool`) already hands a connection to one request at a
time, so a plain state field is enough and a request costs what h11 and the stream cost.

Behaviour kept from httpcore: a response that arrives while the request body is still being
sent (a server refusing an upload early) is read; informational 1xx responses are skipped; a
connection is reused only when both sides finished the exchange and the server did not ask to
close; one that the server closed while idle, or idle past `keepalive_expiry`, is reported
expired. Errors are httpcore's (`ReadError`, `RemoteProtocolError`, timeouts), so that
httpx maps them as usual.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterable, AsyncIterator

import h11
import httpcore

_READ_SIZE = 64 * 1024
_MAX_HEAD_BYTES = 100 * 1024  # response line and headers


class Http11Connection:
    def __init__(
        self, stream: httpcore.AsyncNetworkStream, *, keepalive_expiry: float | None
    ) -> None:
        self._stream = stream
        self._h11 = h11.Connection(our_role=h11.CLIENT, max_incomplete_event_size=_MAX_HEAD_BYTES)
        self._keepalive_expiry = keepalive_expiry
        self._expire_at: float | None = None
        self._busy = False
        self._closed = False

    def is_idle(self) -> bool:
        """Free for the next request (new, or kept alive after a complete exchange)."""
        return not self._busy and not self._closed

    def has_expired(self) -> bool:
        if self._closed:
            return True
        if self._expire_at is not None and time.monotonic() > self._expire_at:
            return True
        # An idle connection with something to read can only be the server closing it.
        return not self._busy and bool(self._stream.get_extra_info("is_readable"))

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        if not self.is_idle():
            raise httpcore.ConnectionNotAvailable()
        self._busy = True
        self._expire_at = None
        timeouts = request.extensions.get("timeout", {})
        read_timeout = timeouts.get("read")
        try:
            # The server may have answered early and closed: its answer says why.
            with contextlib.suppress(httpcore.WriteError):
                await self._send_request(request, timeouts.get("write"))
            while True:
                event = await self._receive(read_timeout)
                if isinstance(event, h11.Response):
                    break
                if not isinstance(event, h11.InformationalResponse):
                    raise httpcore.RemoteProtocolError(f"unexpected {type(event).__name__}")
        except BaseException:
            await self.aclose()  # cut short: the connection's state is unknown
            raise
        return httpcore.Response(
            status=event.status_code,
            headers=event.headers,
            content=_Body(self, read_timeout),
            extensions={
                "http_version": b"HTTP/" + event.http_version,  # as httpcore: b"HTTP/1.1"
                "reason_phrase": event.reason,
            },
        )

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            self._busy = False
            await self._stream.aclose()

    async def _send_request(self, request: httpcore.Request, timeout: float | None) -> None:
        await self._send(
            h11.Request(
                method=request.method,
                target=request.url.target,
                headers=request.headers,
            ),
            timeout,
        )
        if not isinstance(request.stream, AsyncIterable):
            raise RuntimeError("an async request body was expected")
        async for chunk in request.stream:
            await self._send(h11.Data(data=chunk), timeout)
        await self._send(h11.EndOfMessage(), timeout)

    async def _send(self, event: h11.Event, timeout: float | None) -> None:
        try:
            data = self._h11.send(event)
        except h11.LocalProtocolError as exc:
            raise httpcore.LocalProtocolError(str(exc)) from exc
        if data:
            await self._stream.write(data, timeout)

    async def _receive(self, timeout: float | None) -> h11.Event | type[h11.PAUSED]:
        while True:
            try:
                event = self._h11.next_event()
            except h11.RemoteProtocolError as exc:
                raise httpcore.RemoteProtocolError(str(exc)) from exc
            if event is not h11.NEED_DATA:
                return event  # type: ignore[return-value]
            data = await self._stream.read(_READ_SIZE, timeout)
            if not data and self._h11.their_state is h11.SEND_RESPONSE:
                raise httpcore.RemoteProtocolError("the server closed without a response")
            self._h11.receive_data(data)

    async def _response_closed(self) -> None:
        if self._closed:
            return
        if self._h11.our_state is h11.DONE and self._h11.their_state is h11.DONE:
            self._h11.start_next_cycle()
            self._busy = False
            if self._keepalive_expiry is not None:
                self._expire_at = time.monotonic() + self._keepalive_expiry
        else:  # body not read to the end, or the server said "Connection: close"
            await self.aclose()


class _Body:
    def __init__(self, connection: Http11Connection, timeout: float | None) -> None:
        self._connection = connection
        self._timeout = timeout
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            while True:
                event = await self._connection._receive(self._timeout)
                if isinstance(event, h11.Data):
                    yield bytes(event.data)
                elif isinstance(event, h11.EndOfMessage) or event is h11.PAUSED:
                    break
                else:
                    raise httpcore.RemoteProtocolError(f"unexpected {type(event).__name__}")
        except BaseException:
            await self.aclose()
            raise

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            await self._connection._response_closed()
