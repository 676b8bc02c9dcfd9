"""The guarded client's keep-alive pool (egress/pool.py) and asyncio streams (egress/streams.py),
against a small HTTP/1.1 server over TLS that keeps connections open, as real tools do."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpcore
import httpx
import pytest

from fireline.core.errors import EgressDenied, TransientError
from fireline.egress.client import GuardedClient
from fireline.egress.policy import EgressPolicy
from fireline.egress.streams import AsyncioStream, connect
from fireline.egress.transport import SocketAddress
from tests.egress.conftest import LOOPBACK, TlsSetup, fixed_resolver


@dataclass
class KeepAliveServer:
    """Answers every request with `body`, keeping the connection open unless told not to."""

    port: int = 0
    body: bytes = b"ok"
    hold: asyncio.Event | None = None  # when set, requests wait for it before answering
    close_after_answer: bool = False
    connections: int = 0
    open_now: int = 0
    most_open: int = 0
    requests: int = 0
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def wait_for_requests(self, count: int) -> None:
        async with self.arrived:
            await self.arrived.wait_for(lambda: self.requests >= count)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        self.connections += 1
        self.open_now += 1
        self.most_open = max(self.most_open, self.open_now)
        try:
            while True:
                try:
                    await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
                    return
                self.requests += 1
                async with self.arrived:
                    self.arrived.notify_all()
                if self.hold is not None:
                    await self.hold.wait()
                head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(self.body)}\r\n\r\n"
                writer.write(head.encode() + self.body)
                await writer.drain()
                if self.close_after_answer:
                    return
        except (ConnectionError, ssl.SSLError):
            return
        finally:
            self.open_now -= 1
            self.tasks.discard(task)
            writer.close()


@pytest.fixture
async def keepalive(tls: TlsSetup) -> AsyncIterator[KeepAliveServer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.ca.issue_cert("api.test").configure_cert(context)
    server = KeepAliveServer()
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0, ssl=context)
    server.port = listener.sockets[0].getsockname()[1]
    yield server
    listener.close()
    for task in list(server.tasks):
        task.cancel()
    await asyncio.gather(*server.tasks, return_exceptions=True)
    await listener.wait_closed()


def _client(server: KeepAliveServer, tls: TlsSetup, *, connections: int = 10,
            answers: list[str] | None = None) -> GuardedClient:
    policy = EgressPolicy(allowed_hosts=("api.test",), allowed_ports=(server.port,),
                          allow_private=LOOPBACK)
    return GuardedClient(
        policy, ca_bundle=tls.bundle, resolver=fixed_resolver({"api.test": answers or
                                                               ["127.0.0.1"]}),
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        max_attempts=1,
    )


def _url(server: KeepAliveServer) -> str:
    return f"https://api.test:{server.port}/"


async def test_kept_alive_connection_serves_the_next_requests(
    keepalive: KeepAliveServer, tls: TlsSetup
) -> None:
    async with _client(keepalive, tls) as client:
        for _ in range(5):
            response = await client.request("GET", _url(keepalive), idempotent=True)
            assert response.text == "ok"
    assert keepalive.requests == 5
    assert keepalive.connections == 1


async def test_concurrent_requests_never_open_more_than_max_connections(
    keepalive: KeepAliveServer, tls: TlsSetup
) -> None:
    keepalive.hold = asyncio.Event()
    async with _client(keepalive, tls, connections=2) as client:
        requests = [asyncio.create_task(client.request("GET", _url(keepalive), idempotent=True))
                    for _ in range(6)]
        await keepalive.wait_for_requests(2)  # both connections busy, four requests waiting
        keepalive.hold.set()
        responses = await asyncio.gather(*requests)
    assert [r.text for r in responses] == ["ok"] * 6
    assert keepalive.most_open == 2
    assert keepalive.connections == 2


async def test_a_connection_the_server_closed_is_not_reused(
    keepalive: KeepAliveServer, tls: TlsSetup
) -> None:
    keepalive.close_after_answer = True  # without saying "Connection: close"
    async with _client(keepalive, tls) as client:
        for _ in range(3):
            response = await client.request("GET", _url(keepalive), idempotent=True)
            assert response.text == "ok"
    assert keepalive.connections == 3


async def test_a_cancelled_request_gives_its_connection_slot_back(
    keepalive: KeepAliveServer, tls: TlsSetup
) -> None:
    keepalive.hold = asyncio.Event()
    async with _client(keepalive, tls, connections=1) as client:
        stuck = asyncio.create_task(client.request("GET", _url(keepalive), idempotent=True))
        waiting = asyncio.create_task(client.request("GET", _url(keepalive), idempotent=True))
        await keepalive.wait_for_requests(1)
        stuck.cancel()
        waiting.cancel()
        await asyncio.gather(stuck, waiting, return_exceptions=True)
        keepalive.hold.set()
        response = await client.request("GET", _url(keepalive), idempotent=True)
    assert response.text == "ok"
    assert stuck.cancelled() and waiting.cancelled()


async def test_a_request_waiting_for_a_full_pool_times_out_as_transient(
    keepalive: KeepAliveServer, tls: TlsSetup
) -> None:
    keepalive.hold = asyncio.Event()
    async with _client(keepalive, tls, connections=1) as client:
        client._timeout = {**client._timeout, "pool": 0.05}
        first = asyncio.create_task(client.request("GET", _url(keepalive), idempotent=True))
        await keepalive.wait_for_requests(1)
        with pytest.raises(TransientError, match="timed out"):
            await client.request("GET", _url(keepalive), idempotent=True)
        keepalive.hold.set()
        assert (await first).text == "ok"


async def test_net3_every_new_pooled_connection_is_resolved_and_checked_again(
    keepalive: KeepAliveServer, tls: TlsSetup
) -> None:
    answers = iter([["127.0.0.1"], ["10.0.0.7"]])  # the second answer rebinds to a denied one

    async def rebinding(host: str, port: int) -> list[SocketAddress]:
        return await fixed_resolver({host: next(answers)})(host, port)

    keepalive.hold = asyncio.Event()
    async with _client(keepalive, tls, connections=2) as client:
        client._transport._pool._backend._resolver = rebinding  # type: ignore[attr-defined]
        first = asyncio.create_task(client.request("GET", _url(keepalive), idempotent=True))
        await keepalive.wait_for_requests(1)
        # The first connection is busy: the pool must dial a second one, through the guard.
        with pytest.raises(EgressDenied, match="denied address"):
            await client.request("GET", _url(keepalive), idempotent=True)
        keepalive.hold.set()
        assert (await first).text == "ok"
    assert keepalive.connections == 1


async def test_large_bodies_are_read_whole_through_the_buffer_limit(
    keepalive: KeepAliveServer, tls: TlsSetup
) -> None:
    keepalive.body = bytes(range(256)) * 8192  # 2 MiB: reading pauses and resumes
    async with _client(keepalive, tls) as client:
        response = await client.request("GET", _url(keepalive), idempotent=True)
    assert response.content == keepalive.body


async def test_stream_read_times_out_when_nothing_arrives(keepalive: KeepAliveServer) -> None:
    stream = await connect(ipaddress.ip_address("127.0.0.1"), keepalive.port, timeout=5)
    assert isinstance(stream, AsyncioStream)
    with pytest.raises(httpcore.ReadTimeout):
        await stream.read(1024, timeout=0.01)  # the TLS server waits for a ClientHello
    assert stream.get_extra_info("is_readable") is False
    await stream.aclose()


async def test_stream_connect_failure_is_a_connect_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: the connection is refused
        with pytest.raises(httpcore.ConnectError):
            await connect(ipaddress.ip_address("127.0.0.1"), port, timeout=5)
