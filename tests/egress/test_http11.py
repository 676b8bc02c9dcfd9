"""HTTP/1.1 framing and connection reuse on the guarded client's own connections
(egress/http11.py), against a server that answers with exactly the bytes each test scripts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import httpx
import pytest

from fireline.core.errors import TransientError
from fireline.egress.client import GuardedClient
from fireline.egress.policy import EgressPolicy
from tests.egress.conftest import LOOPBACK

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


def _client(server: ScriptedServer) -> GuardedClient:
    policy = EgressPolicy(allowed_hosts=("127.0.0.1",), allowed_ports=(server.port,),
                          allow_http=True, allow_private=LOOPBACK)
    return GuardedClient(policy, max_attempts=1,
                         limits=httpx.Limits(max_connections=1, max_keepalive_connections=1))


async def _get(client: GuardedClient, server: ScriptedServer) -> httpx.Response:
    return await client.request("GET", f"http://127.0.0.1:{server.port}/", idempotent=True)


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


async def test_chunked_bodies_are_read_whole_and_the_connection_reused(scripted: Start) -> None:
    chunked = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
    server = await scripted(lambda _: (chunked, False))
    async with _client(server) as client:
        assert (await _get(client, server)).text == "abcde"
        response = await _get(client, server)
    assert (response.text, response.http_version, response.reason_phrase) == (
        "abcde", "HTTP/1.1", "OK")
    assert server.connections == 1


async def test_connection_close_is_honoured(scripted: Start) -> None:
    closing = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
    server = await scripted(lambda _: (closing, True))
    async with _client(server) as client:
        assert (await _get(client, server)).text == "ok"
        assert (await _get(client, server)).text == "ok"
    assert server.connections == 2


async def test_a_body_framed_by_the_close_is_read_to_the_end(scripted: Start) -> None:
    server = await scripted(lambda _: (b"HTTP/1.1 200 OK\r\n\r\nuntil the end", True))
    async with _client(server) as client:
        assert (await _get(client, server)).text == "until the end"
        assert (await _get(client, server)).text == "until the end"
    assert server.connections == 2


async def test_informational_answers_are_skipped(scripted: Start) -> None:
    server = await scripted(lambda _: (b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + OK,
                                       False))
    async with _client(server) as client:
        response = await _get(client, server)
    assert (response.status_code, response.text) == (200, "ok")


async def test_a_server_closing_without_an_answer_is_transient(scripted: Start) -> None:
    server = await scripted(lambda _: (b"", True))
    async with _client(server) as client:
        with pytest.raises(TransientError, match="connection failed"):
            await _get(client, server)


async def test_a_malformed_answer_is_transient_and_not_reused(scripted: Start) -> None:
    answers = {1: (b"HTTP/1.1 200 OK\r\nContent-Length: nope\r\n\r\n", False), 2: (OK, False)}
    server = await scripted(lambda n: answers[n])
    async with _client(server) as client:
        with pytest.raises(TransientError):
            await _get(client, server)
        assert (await _get(client, server)).text == "ok"
    assert server.connections == 2


async def test_a_post_body_is_sent_with_its_length(scripted: Start) -> None:
    server = await scripted(lambda _: (OK, False))
    async with _client(server) as client:
        response = await client.request("POST", f"http://127.0.0.1:{server.port}/x",
                                        idempotent=False, json={"query": "a" * 10_000})
        assert response.text == "ok"
        assert (await _get(client, server)).text == "ok"  # the body was consumed exactly
    assert server.connections == 1


async def test_a_large_request_body_waits_for_the_socket_to_drain(scripted: Start) -> None:
    server = await scripted(lambda _: (OK, False))
    body = bytes(range(256)) * 16384  # 4 MiB: far beyond the transport's write buffer
    async with _client(server) as client:
        response = await client.request("POST", f"http://127.0.0.1:{server.port}/upload",
                                        idempotent=False, content=body)
    assert response.text == "ok"
    assert server.requests == 1
