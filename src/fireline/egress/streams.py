"""httpcore network streams on asyncio's own transports (plain TCP, then TLS via `start_tls`).

httpcore's default backend goes through anyio: every read and write enters a cancel scope, TLS
runs in anyio's `TLSStream`, and the pool's keep-alive check (`is_readable`) rebuilds anyio's
attribute table and polls the socket for every idle connection each time a request is queued or
a response closed. On a busy pool that is most of a request's CPU time. Here a small
`asyncio.Protocol` buffers what the event loop already reads, so a read is a buffer slice, a
timeout is one timer handle, and `is_readable` is an attribute test.

What it promises httpcore: `read` returns at most `max_bytes`, `b""` once the peer closed;
timeouts raise `ReadTimeout` / `WriteTimeout` / `ConnectTimeout`; failures raise `ReadError` /
`WriteError` / `ConnectError` chained to their cause (the TLS verification error included).
Only IP addresses are dialed: name resolution and the address check are the caller's (NET-3).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore

from fireline.egress.addresses import IPAddress

# Stop reading from the socket while this much is buffered and unread (the caller caps bodies).
_HIGH_WATER = 256 * 1024


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.eof = False
        self.error: BaseException | None = None
        self.reading_paused = False
        self.writing_paused = False
        self._read_waiter: asyncio.Future[None] | None = None
        self._drain_waiter: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > _HIGH_WATER and self.transport is not None:
            self.transport.pause_reading()
            self.reading_paused = True
        self._wake_reader()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake_reader()
        return False  # close the transport: HTTP/1.1 does not half-close

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.error = exc
        self._wake_reader()
        self.writing_paused = False
        self._wake_writer()

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        self._wake_writer()

    def wait_readable(self) -> asyncio.Future[None]:
        self._read_waiter = asyncio.get_running_loop().create_future()
        return self._read_waiter

    def wait_drained(self) -> asyncio.Future[None]:
        self._drain_waiter = asyncio.get_running_loop().create_future()
        return self._drain_waiter

    def _wake_reader(self) -> None:
        waiter, self._read_waiter = self._read_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _wake_writer(self) -> None:
        waiter, self._drain_waiter = self._drain_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


def _expire(waiter: asyncio.Future[None], error: type[Exception]) -> None:
    if not waiter.done():
        waiter.set_exception(error())


async def _wait(
    waiter: asyncio.Future[None], timeout: float | None, error: type[Exception]
) -> None:
    # One timer handle instead of a cancel scope or `asyncio.timeout()` per read.
    if timeout is None:
        await waiter
        return
    timer = asyncio.get_running_loop().call_later(timeout, _expire, waiter, error)
    try:
        await waiter
    finally:
        timer.cancel()


class AsyncioStream(httpcore.AsyncNetworkStream):
    def __init__(self, transport: asyncio.Transport, protocol: _Protocol) -> None:
        self._transport = transport
        self._protocol = protocol

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        protocol = self._protocol
        if not protocol.buffer and not protocol.eof:
            await _wait(protocol.wait_readable(), timeout, httpcore.ReadTimeout)
        buffer = protocol.buffer
        if buffer:
            data = bytes(buffer[:max_bytes])
            del buffer[:max_bytes]
            if protocol.reading_paused and len(buffer) <= _HIGH_WATER:
                protocol.reading_paused = False
                self._transport.resume_reading()
            return data
        if protocol.error is not None:
            raise httpcore.ReadError(str(protocol.error) or "connection lost") from protocol.error
        return b""

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        protocol = self._protocol
        if protocol.error is not None or self._transport.is_closing():
            raise httpcore.WriteError("connection closed") from protocol.error
        self._transport.write(buffer)
        if protocol.writing_paused:
            await _wait(protocol.wait_drained(), timeout, httpcore.WriteTimeout)
            if protocol.error is not None:
                raise httpcore.WriteError("connection lost") from protocol.error

    async def aclose(self) -> None:
        self._transport.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            # SNI and certificate verification use the URL's host name, not the dialed address.
            transport = await loop.start_tls(
                self._transport,
                self._protocol,
                ssl_context,
                server_hostname=server_hostname,
                ssl_handshake_timeout=timeout,
            )
        except TimeoutError as exc:
            self._transport.abort()
            raise httpcore.ConnectTimeout("TLS handshake timed out") from exc
        except (OSError, EOFError) as exc:  # ssl.SSLError is an OSError
            self._transport.abort()
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        assert transport is not None
        assert isinstance(transport, asyncio.Transport)
        self._protocol.transport = transport
        return AsyncioStream(transport, self._protocol)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            # What the event loop already read (or the peer's close) is waiting in the buffer.
            return bool(self._protocol.buffer) or self._protocol.eof
        if info == "ssl_object":
            return self._transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._transport.get_extra_info("sockname")
        if info == "server_addr":
            return self._transport.get_extra_info("peername")
        if info == "socket":
            return self._transport.get_extra_info("socket")
        return None


async def connect(
    address: IPAddress,
    port: int,
    *,
    timeout: float | None = None,
    local_address: str | None = None,
    socket_options: Iterable[Any] | None = None,
) -> AsyncioStream:
    """A TCP connection to exactly `address` (no name resolution happens here)."""
    loop = asyncio.get_running_loop()
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        for option in socket_options or ():
            sock.setsockopt(*option)
        if local_address:
            sock.bind((local_address, 0))
        connecting = loop.sock_connect(sock, (str(address), port))
        if timeout is None:
            await connecting
        else:
            async with asyncio.timeout(timeout):
                await connecting
        # asyncio sets TCP_NODELAY on TCP transports.
        transport, protocol = await loop.create_connection(_Protocol, sock=sock)
    except TimeoutError as exc:
        sock.close()
        raise httpcore.ConnectTimeout(f"connecting to {address} timed out") from exc
    except OSError as exc:
        sock.close()
        raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
    except BaseException:
        sock.close()
        raise
    assert isinstance(transport, asyncio.Transport)
    return AsyncioStream(transport, protocol)
