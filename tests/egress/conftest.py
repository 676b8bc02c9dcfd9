"""A small HTTP/1.1 server on 127.0.0.1 (plain or TLS with a `trustme` CA) for egress tests.

Each request is recorded; a handler per path answers with (status, headers, body).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network
from pathlib import Path

import pytest
import trustme

Answer = tuple[int, list[tuple[str, str]], bytes]
Handler = Callable[["Recorded"], Awaitable[Answer] | Answer]
LOOPBACK = (ip_network("127.0.0.0/8"),)


@dataclass
class Recorded:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes


@dataclass
class LocalServer:
    port: int = 0
    routes: dict[str, Handler] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    connections: int = 0
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)  # type: ignore[arg-type]
        try:
            await self._handle(reader, writer)
        finally:
            self.tasks.discard(task)  # type: ignore[arg-type]
            writer.close()  # also when cancelled: no transport left for the GC to warn about

    async def stop(self, listener: asyncio.Server) -> None:
        # Python 3.11's Server.close() leaves handlers running: a stalled one is cancelled here.
        listener.close()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await listener.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            writer.close()
            return
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            if line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        recorded = Recorded(method, target, headers, body)
        self.requests.append(recorded)
        handler = self.routes.get(target.split("?", 1)[0])
        if handler is None:
            answer: Answer = (404, [], b"no such route")
        else:
            result = handler(recorded)
            answer = await result if asyncio.iscoroutine(result) else result  # type: ignore[assignment]
        status, extra, payload = answer
        out = [f"HTTP/1.1 {status} X", f"Content-Length: {len(payload)}", "Connection: close"]
        out += [f"{name}: {value}" for name, value in extra]
        writer.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1") + payload)
        try:
            await writer.drain()
            writer.close()
            await writer.wait_closed()
        except (ConnectionError, ssl.SSLError):
            pass


async def _serve(server: LocalServer, context: ssl.SSLContext | None) -> asyncio.Server:
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0, ssl=context)
    server.port = listener.sockets[0].getsockname()[1]
    return listener


@pytest.fixture
async def http_server() -> AsyncIterator[LocalServer]:
    server = LocalServer()
    listener = await _serve(server, None)
    yield server
    await server.stop(listener)


@dataclass
class TlsSetup:
    ca: trustme.CA
    bundle: Path


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsSetup:
    ca = trustme.CA()
    bundle = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    return TlsSetup(ca, bundle)


def _server_context(tls: TlsSetup, *names: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.ca.issue_cert(*names).configure_cert(context)
    return context


@pytest.fixture
async def https_server(tls: TlsSetup) -> AsyncIterator[LocalServer]:
    """Serves a certificate for api.test, other.test and 127.0.0.1."""
    server = LocalServer()
    listener = await _serve(server, _server_context(tls, "api.test", "other.test", "127.0.0.1"))
    yield server
    await server.stop(listener)


@pytest.fixture
async def wrong_name_server(tls: TlsSetup) -> AsyncIterator[LocalServer]:
    """Trusted CA, but the certificate names only elsewhere.test."""
    server = LocalServer()
    listener = await _serve(server, _server_context(tls, "elsewhere.test"))
    yield server
    await server.stop(listener)


def fixed_resolver(
    table: dict[str, list[str]],
) -> Callable[[str, int], Awaitable[list[tuple[IPv4Address | IPv6Address, int]]]]:
    async def resolve(host: str, port: int) -> list[tuple[IPv4Address | IPv6Address, int]]:
        if host not in table:
            raise OSError(f"unknown host {host}")
        return [(ip_address(address), port) for address in table[host]]

    return resolve


class FakeSleep:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


from tests.loops import pytest_asyncio_loop_factories  # noqa: E402, F401  (both event loops)
