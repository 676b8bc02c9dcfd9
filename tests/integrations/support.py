"""Local fake servers that speak a tool's real protocol over real TLS, and tool contexts
that reach them through the real egress client (`GuardedClient`).

A fake is an ASGI app served by uvicorn on 127.0.0.1 with a certificate from a throwaway CA
(`trustme`) for the tool's real hostnames (e.g. `api.datadoghq.com`); only name resolution
is redirected, so URLs, hosts, TLS and headers are exactly what production sends.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpcore
import httpx
import trustme
import uvicorn

from fireline.egress.addresses import IPAddress
from fireline.egress.client import GuardedClient
from fireline.egress.policy import EgressPolicy
from fireline.egress.resolver import Resolver
from fireline.integrations.base import Integration, ToolContext


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class FakeServer:
    port: int
    hostnames: tuple[str, ...]
    requests: list[httpx.Request] = field(default_factory=list)

    def routes(self, port: int = 443) -> dict[tuple[str, int], int]:
        """Resolution table: each hostname at `port` is served by this fake."""
        return {(host, port): self.port for host in self.hostnames}


@contextmanager
def serve(app: Any, ca: trustme.CA, tmp: Path, *hostnames: str) -> Iterator[FakeServer]:
    names = ("localhost", "127.0.0.1", *hostnames)
    cert = ca.issue_cert(*names)
    cert_file, key_file = tmp / f"cert-{id(app)}.pem", tmp / f"key-{id(app)}.pem"
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    for blob in cert.cert_chain_pems[1:]:
        blob.write_to_path(str(cert_file), append=True)
    cert.private_key_pem.write_to_path(str(key_file))
    port = _free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ssl_certfile=str(cert_file),
        ssl_keyfile=str(key_file),
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("fake server did not start")
        time.sleep(0.02)
    try:
        yield FakeServer(port=port, hostnames=names)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def routing_resolver(routes: Mapping[tuple[str, int], int]) -> Resolver:
    """Name resolution for tests: a real (host, port) answers at 127.0.0.1 on the fake's port."""

    async def resolve(host: str, port: int) -> list[tuple[IPAddress, int]]:
        target = routes.get((host, port))
        if target is None:
            raise OSError(f"no route to {host}:{port} in this test")
        return [(ipaddress.ip_address("127.0.0.1"), target)]

    return resolve


_BUNDLES: dict[int, Path] = {}


def ca_bundle(ca: trustme.CA) -> Path:
    if id(ca) not in _BUNDLES:
        path = Path(tempfile.mkdtemp(prefix="fireline-ca-")) / "ca.pem"
        ca.cert_pem.write_to_path(str(path))
        _BUNDLES[id(ca)] = path
    return _BUNDLES[id(ca)]


OPEN_CLIENTS: list[GuardedClient | httpx.AsyncClient] = []
LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"),)


def _client(integration: Integration, config: Mapping[str, Any],
            routes: Mapping[tuple[str, int], int], ca: trustme.CA) -> GuardedClient:
    destination = integration.destination(integration.config.model_validate(dict(config)))
    policy = EgressPolicy(allowed_hosts=destination.hosts, allowed_ports=destination.ports,
                          allow_private=LOOPBACK)
    # No kept-alive connections: a fake stopping at the end of a test has none left to
    # wait for (uvicorn waits for open connections before it exits).
    client = GuardedClient(policy, ca_bundle=ca_bundle(ca), resolver=routing_resolver(routes),
                           max_attempts=1, keep_alive=False)
    OPEN_CLIENTS.append(client)
    return client


def tool_context(
    integration: Integration,
    *,
    config: Mapping[str, Any],
    secrets: Mapping[str, Any],
    routes: Mapping[tuple[str, int], int],
    ca: trustme.CA,
    idempotency_key: str | None = None,
    external_id: str | None = None,
    endpoints: Mapping[str, str] | None = None,
) -> ToolContext:
    return ToolContext(
        connection_id="PTESTCONNECTION",
        config=integration.config.model_validate(dict(config)),
        secrets=integration.secrets.model_validate(dict(secrets)),
        http=_client(integration, config, routes, ca),
        idempotency_key=idempotency_key,
        external_id=external_id,
        endpoints=dict(endpoints or {}),
    )


def raw_client(routes: Mapping[tuple[str, int], int], ca: trustme.CA) -> httpx.AsyncClient:
    """A plain client reaching the fakes by their real names: plays the user's browser in
    OAuth flows (authorize redirects) or pokes a fake directly. Closed after each test."""
    transport = httpx.AsyncHTTPTransport(
        verify=ssl.create_default_context(cafile=str(ca_bundle(ca))))
    transport._pool._network_backend = _RawBackend(routes)  # test-only routing
    client = httpx.AsyncClient(transport=transport, trust_env=False, timeout=10)
    OPEN_CLIENTS.append(client)
    return client


class _RawBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, routes: Mapping[tuple[str, int], int]) -> None:
        self._routes = dict(routes)
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Any = None) -> httpcore.AsyncNetworkStream:
        target = self._routes.get((host, port))
        if target is None:
            raise httpcore.ConnectError(f"no route to {host}:{port} in this test")
        return await self._inner.connect_tcp("127.0.0.1", target, timeout=timeout)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)
