"""The guarded client on the wire (aiohttp underneath): kept-alive connections and their limits,
HTTP/1.1 framing edge cases, and the connect-time check on every new connection. Against small
servers that keep connections open as real tools do, or answer with exactly the bytes a test
scripts."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
import httpx
import pytest

from fireline.core.errors import EgressDenied, TransientError
from fireline.egress.client import GuardedClient
from fireline.egress.policy import EgressPolicy
from fireline.egress.resolver import SocketAddress
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
            answers: list[str] | None = None, **options: object) -> GuardedClient:
    policy = EgressPolicy(allowed_hosts=("api.test",), allowed_ports=(server.port,),
                          allow_private=LOOPBACK)
    return GuardedClient(
        policy, ca_bundle=tls.bundle, resolver=fixed_resolver({"api.test": answers or
                                                               ["127.0.0.1"]}),
        max_connections=connections, max_attempts=1, **options,  # type: ignore[arg-type]
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


async def test_a_request_waiting_for_a_full_pool_gives_up_as_transient(
    keepalive: KeepAliveServer, tls: TlsSetup
) -> None:
    keepalive.hold = asyncio.Event()
    async with _client(keepalive, tls, connections=1,
                       timeout=aiohttp.ClientTimeout(connect=0.05, sock_read=5)) as client:
        first = asyncio.create_task(client.request("GET", _url(keepalive), idempotent=True))
        await keepalive.wait_for_requests(1)
        # Nothing was sent: "cannot connect", not an unknown outcome.
        with pytest.raises(TransientError, match="cannot connect"):
            await client.request("GET", _url(keepalive), idempotent=True)
        keepalive.hold.set()
        assert (await first).text == "ok"


async def test_net3_a_new_connection_after_the_dns_cache_expires_is_checked_again(
    keepalive: KeepAliveServer, tls: TlsSetup
) -> None:
    answers = iter([["127.0.0.1"], ["10.0.0.7"]])  # the second answer rebinds to a denied one

    async def rebinding(host: str, port: int) -> list[SocketAddress]:
        return await fixed_resolver({host: next(answers)})(host, port)

    keepalive.hold = asyncio.Event()
    policy = EgressPolicy(allowed_hosts=("api.test",), allowed_ports=(keepalive.port,),
                          allow_private=LOOPBACK)
    async with GuardedClient(policy, ca_bundle=tls.bundle, resolver=rebinding, max_attempts=1,
                             dns_cache_seconds=0) as client:
        first = asyncio.create_task(client.request("GET", _url(keepalive), idempotent=True))
        await keepalive.wait_for_requests(1)
        await asyncio.sleep(0.01)  # past the (zero) lifetime of the checked answer
        # The first connection is busy: a second one is dialed, through the guard.
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


# One scripted answer per request: (raw bytes to write, close the connection afterwards).
Script = Callable[[int], tuple[bytes, bool]]


@dataclass
class ScriptedServer:
    script: Script
    port: int = 0
    connections: int = 0
    requests: int = 0
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        self.connections += 1
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                length = [int(line.split(b":")[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:")]
                if length:
                    await reader.readexactly(length[0])
                self.requests += 1
                answer, close = self.script(self.requests)
                writer.write(answer)
                await writer.drain()
                if close:
                    return
        finally:
            self.tasks.discard(task)
            writer.close()


Start = Callable[[Script], Awaitable["ScriptedServer"]]


@pytest.fixture
async def scripted() -> AsyncIterator[Start]:
    listeners: list[tuple[asyncio.Server, ScriptedServer]] = []

    async def start(script: Script) -> ScriptedServer:
        server = ScriptedServer(script)
        listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
        server.port = listener.sockets[0].getsockname()[1]
        listeners.append((listener, server))
        return server

    yield start
    for listener, server in listeners:
        listener.close()
        for task in list(server.tasks):
            task.cancel()
        await asyncio.gather(*server.tasks, return_exceptions=True)
        await listener.wait_closed()


def _scripted_client(server: ScriptedServer) -> GuardedClient:
    policy = EgressPolicy(allowed_hosts=("127.0.0.1",), allowed_ports=(server.port,),
                          allow_http=True, allow_private=LOOPBACK)
    return GuardedClient(policy, max_attempts=1, max_connections=1)


async def _get(client: GuardedClient, server: ScriptedServer) -> httpx.Response:
    return await client.request("GET", f"http://127.0.0.1:{server.port}/", idempotent=True)


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


async def test_chunked_bodies_are_read_whole_and_the_connection_reused(scripted: Start) -> None:
    chunked = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
    server = await scripted(lambda _: (chunked, False))
    async with _scripted_client(server) as client:
        assert (await _get(client, server)).text == "abcde"
        response = await _get(client, server)
    assert (response.text, response.http_version, response.reason_phrase) == (
        "abcde", "HTTP/1.1", "OK")
    assert server.connections == 1


async def test_connection_close_is_honoured(scripted: Start) -> None:
    closing = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
    server = await scripted(lambda _: (closing, True))
    async with _scripted_client(server) as client:
        assert (await _get(client, server)).text == "ok"
        assert (await _get(client, server)).text == "ok"
    assert server.connections == 2


async def test_a_body_framed_by_the_close_is_read_to_the_end(scripted: Start) -> None:
    server = await scripted(lambda _: (b"HTTP/1.1 200 OK\r\n\r\nuntil the end", True))
    async with _scripted_client(server) as client:
        assert (await _get(client, server)).text == "until the end"
        assert (await _get(client, server)).text == "until the end"
    assert server.connections == 2


async def test_informational_answers_are_skipped(scripted: Start) -> None:
    server = await scripted(lambda _: (b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + OK,
                                       False))
    async with _scripted_client(server) as client:
        response = await _get(client, server)
    assert (response.status_code, response.text) == (200, "ok")


async def test_a_server_closing_without_an_answer_is_transient(scripted: Start) -> None:
    server = await scripted(lambda _: (b"", True))
    async with _scripted_client(server) as client:
        with pytest.raises(TransientError, match="connection failed"):
            await _get(client, server)


async def test_a_malformed_answer_is_transient_and_not_reused(scripted: Start) -> None:
    answers = {1: (b"HTTP/1.1 200 OK\r\nContent-Length: nope\r\n\r\n", False), 2: (OK, False)}
    server = await scripted(lambda n: answers[n])
    async with _scripted_client(server) as client:
        with pytest.raises(TransientError):
            await _get(client, server)
        assert (await _get(client, server)).text == "ok"
    assert server.connections == 2


async def test_a_post_body_is_sent_with_its_length(scripted: Start) -> None:
    server = await scripted(lambda _: (OK, False))
    async with _scripted_client(server) as client:
        response = await client.request("POST", f"http://127.0.0.1:{server.port}/x",
                                        idempotent=False, json={"query": "a" * 10_000})
        assert response.text == "ok"
        assert (await _get(client, server)).text == "ok"  # the body was consumed exactly
    assert server.connections == 1


async def test_a_large_request_body_waits_for_the_socket_to_drain(scripted: Start) -> None:
    server = await scripted(lambda _: (OK, False))
    body = bytes(range(256)) * 16384  # 4 MiB: far beyond the transport's write buffer
    async with _scripted_client(server) as client:
        response = await client.request("POST", f"http://127.0.0.1:{server.port}/upload",
                                        idempotent=False, content=body)
    assert response.text == "ok"
    assert server.requests == 1
