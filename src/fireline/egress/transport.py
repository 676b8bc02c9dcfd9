"""The connect-time guard (NET-3): resolve, check every address, dial the checked one.

`GuardedTransport` is an httpx transport whose connections resolve the host themselves, refuse
the connection with `EgressDenied` if *any* resolved address is not allowed, and then dial an
IP address from that checked list — so no second DNS answer can slip in between the check and
the connect (DNS rebinding). TLS still verifies the certificate against, and sends SNI for, the
host name of the URL, and the Host header is unchanged. No proxies, no Unix sockets.
Connections run on asyncio's own transports (`streams`), not through anyio.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import anyio
import httpcore
import httpx

from fireline.core.errors import EgressDenied
from fireline.egress import streams
from fireline.egress.addresses import IPAddress, IPNetwork, address_allowed
from fireline.egress.pool import GuardedPool

# A resolver answers with socket addresses (address, port), as getaddrinfo does. The port is
# normally the one asked for; a test resolver may map a real host and port to a local fake.
SocketAddress = tuple[IPAddress, int]
Resolver = Callable[[str, int], Awaitable[list[SocketAddress]]]


async def resolve(host: str, port: int) -> list[SocketAddress]:
    """Every address the system resolver gives for `host`, in its preferred order."""
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[SocketAddress] = []
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if (address, port) not in addresses:
            addresses.append((address, port))
    return addresses


class GuardedBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, *, allow_private: Iterable[IPNetwork], resolver: Resolver = resolve) -> None:
        self._allow_private = tuple(allow_private)
        self._resolver = resolver

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            with anyio.fail_after(timeout):
                addresses = await self._resolver(host, port)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from exc
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}") from exc
        if not addresses:
            raise httpcore.ConnectError(f"cannot resolve {host}")
        # NET-3: every answer must pass, or an attacker's DNS could mix in a private address.
        denied = [str(a) for a, _ in addresses if not address_allowed(a, self._allow_private)]
        if denied:
            raise EgressDenied(f"{host} resolves to a denied address ({', '.join(denied)})")
        failure: httpcore.ConnectError | None = None
        for address, address_port in addresses:  # dial the checked addresses, not the name
            try:
                return await streams.connect(
                    address,
                    address_port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise EgressDenied("Unix sockets are not an egress route")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext,
        allow_private: Iterable[IPNetwork],
        resolver: Resolver = resolve,
        limits: httpx.Limits = httpx.Limits(max_connections=20, max_keepalive_connections=10),
    ) -> None:
        super().__init__(verify=ssl_context, trust_env=False, limits=limits)
        # httpx has no public hook for the network backend, so the pool it built is replaced
        # by ours (`pool`: O(1) per request), whose every connection goes through the guard.
        self._pool = GuardedPool(  # type: ignore[assignment]
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(allow_private=allow_private, resolver=resolver),
        )
